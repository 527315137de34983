"""Metrics that torchmetrics does not have (geometry)."""
