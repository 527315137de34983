"""Rendering: cameras and rays, samplers (uniform, occupancy grid, proposal), volume rendering.

Pure functions plus small stateful estimators, in the style of nerfacc. Two layouts of samples:
batched ``(rays, samples)`` and packed (all samples in one tensor, sorted by ray, with per-sample
``ray_indices``). Everything is plain PyTorch and runs on CPU and GPU.
"""
