"""Names a scene file may use for built-in data, torch-free (the scene is validated before torch loads):
``skimage:NAME`` photographs, ``shape:NAME`` generated shapes, ``synthetic:NAME`` generated multi-view
scenes, ``povray:NAME`` POV-Ray scenes. The generators (``analytic.PRESETS``, ``synthetic_scene``) hold the same
names; tests check that they agree."""

from __future__ import annotations

SKIMAGE_PREFIX = "skimage:"
SHAPE_PREFIX = "shape:"
SHAPE_NAMES = ("sphere", "box", "torus", "capsule", "union", "blend")
SYNTHETIC_PREFIX = "synthetic:"
SYNTHETIC_SCENES = ("objects", "sphere")
POVRAY_PREFIX = "povray:"  # scenes rendered with POV-Ray (fields.datasets.povray)
SHAPE_CLASSES = ("sphere", "box", "torus", "cylinder", "cone", "capsule", "ellipsoid", "two_spheres", "box_with_hole",
                 "l_shape", "cross", "tube")  # the procedural collection of the classify task (shapes_collection)
_SKIMAGE_SKIP = {"data_dir", "download_all", "lbp_frontal_face_cascade_filename", "stereo_motorcycle"}


def skimage_names() -> list[str]:
    """The photographs of ``skimage.data`` (its loader functions), read from its ``__all__``: looking each name
    up would import the loaders' modules (scipy among them), a second for a one-line answer."""
    import skimage.data

    names = getattr(skimage.data, "__all__", None) or [
        name for name in dir(skimage.data) if callable(getattr(skimage.data, name))]
    return sorted(name for name in names if not name.startswith("_") and name not in _SKIMAGE_SKIP)
