"""The packed layout's scans live in ``fields.kernels.packing`` (the Triton volume kernels share them);
re-exported here for the renderer's callers."""

from fields.kernels.packing import (
    exclusive_sum,
    packed_info_from_ray_indices,
    ray_indices_from_packed_info,
    segment_sum,
)

__all__ = ["exclusive_sum", "packed_info_from_ray_indices", "ray_indices_from_packed_info", "segment_sum"]
