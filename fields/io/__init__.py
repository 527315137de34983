"""Files at the bottom layer: atomic writes; images, videos and PLY files; safetensors files written and read
back with their format checked. Nothing here imports another ``fields`` package except ``fields.errors``."""

from fields.io.atomic import atomic_path, atomic_write_text, remove_stale_temporaries
from fields.io.images import save_image, to_uint8
from fields.io.ply import write_mesh_ply, write_point_cloud
from fields.io.tensor_file import read_tensor_file, write_tensor_file
from fields.io.video import write_video

__all__ = ["atomic_path", "atomic_write_text", "read_tensor_file", "remove_stale_temporaries", "save_image", "to_uint8",
           "write_mesh_ply", "write_point_cloud", "write_tensor_file", "write_video"]
