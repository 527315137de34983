"""SDF and occupancy fields in the viewer (placeholder until the geometry tasks land)."""
