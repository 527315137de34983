"""Radiance fields in the viewer (placeholder until the radiance task lands)."""
