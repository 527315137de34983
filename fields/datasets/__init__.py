"""Data loaders and generators."""
