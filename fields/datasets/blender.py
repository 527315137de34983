"""Blender / Instant-NGP ``transforms.json``: poses in the OpenGL convention (camera looks along -z).

Split files ``transforms_{train,test}.json`` (``val`` when there is no test file), or one
``transforms.json`` (every ``test_every``-th frame held out). Intrinsics: ``camera_angle_x`` (and
optionally ``camera_angle_y``) or ``fl_x``/``fl_y``/``cx``/``cy``, with ``w``/``h`` and distortion ``k1, k2,
p1, p2`` (``k3``), globally or per frame. ``aabb_scale`` scales the default scene box
``[-1.5, 1.5]^3`` (Blender's synthetic objects fit in it).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

import torch

from fields.datasets.posed_views import PosedViews, holdout_split, read_rgba, stack_images
from fields.errors import UserError
from fields.render.cameras import Cameras

_INTRINSIC_KEYS = (
    "camera_angle_x",
    "camera_angle_y",
    "fl_x",
    "fl_y",
    "cx",
    "cy",
    "w",
    "h",
    "k1",
    "k2",
    "p1",
    "p2",
    "k3",
)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(
            f"{path}: not a readable transforms JSON ({type(err).__name__}: {str(err).splitlines()[0]})"
        ) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list) or not meta["frames"]:
        raise UserError(f"{path}: expected a JSON object with a non-empty 'frames' list")
    return meta


def _image_path(root: Path, file_path: str) -> Path:
    path = (root / file_path).resolve() if not Path(file_path).is_absolute() else Path(file_path)
    if path.suffix == "" or not path.is_file():
        for ext in (".png", ".jpg", ".jpeg", ".PNG", ".JPG"):
            if path.with_name(path.name + ext).is_file():
                return path.with_name(path.name + ext)
    return path


def _number(value: Any, key: str, source: str, positive: bool = False) -> float:
    """A JSON number of ``key`` (booleans and strings are not numbers), finite, > 0 if ``positive``."""
    number = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not number or (positive and value <= 0):
        kind = "a positive number" if positive else "a finite number"
        raise UserError(f"{source}: {key} must be {kind}, got {json.dumps(value)[:40]}")
    return float(value)


def _pose(value: Any, source: str) -> torch.Tensor:
    rows = value if isinstance(value, list) else None
    if (rows is None or len(rows) not in (3, 4) or any(not isinstance(r, list) or len(r) != 4 for r in rows)
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for r in rows for v in r)):
        raise UserError(f"{source}: transform_matrix must be a 4x4 (or 3x4) list of numbers")
    matrix = torch.tensor(rows, dtype=torch.float64)
    if not torch.isfinite(matrix).all():
        raise UserError(f"{source}: transform_matrix holds NaN or infinite values")
    return matrix


def _intrinsics(meta: dict[str, Any], frame: dict[str, Any], width: int, height: int, source: str) -> list[float]:
    """-> ``[fx, fy, cx, cy, k1, k2, p1, p2, k3]``, frame keys overriding global ones."""
    def get(key: str) -> Any:
        value = frame.get(key, meta.get(key))
        if value is None:
            return None
        if key == "camera_angle_x" or key == "camera_angle_y":
            angle = _number(value, key, source, positive=True)
            if angle >= math.pi:
                raise UserError(f"{source}: {key} is a field of view in radians, below pi; got {angle}")
            return angle
        return _number(value, key, source, positive=key in ("fl_x", "fl_y"))

    fx, fy = get("fl_x"), get("fl_y")
    if fx is None and get("camera_angle_x") is not None:
        fx = 0.5 * width / math.tan(0.5 * float(get("camera_angle_x")))
    if fy is None and get("camera_angle_y") is not None:
        fy = 0.5 * height / math.tan(0.5 * float(get("camera_angle_y")))
    if fx is None and fy is None:
        raise UserError(f"{source}: no focal length (give camera_angle_x or fl_x)")
    fx = float(fx if fx is not None else fy)
    fy = float(fy if fy is not None else fx)
    cx = float(get("cx") if get("cx") is not None else width / 2)
    cy = float(get("cy") if get("cy") is not None else height / 2)
    return [fx, fy, cx, cy] + [float(get(k) or 0.0) for k in ("k1", "k2", "p1", "p2", "k3")]


def load_blender(path: Path, convention: Optional[str] = None, test_every: int = 8) -> PosedViews:
    path = Path(path)
    root = path.parent if path.is_file() else path
    if path.is_file():
        splits = {"all": path}
    elif (root / "transforms_train.json").is_file():
        splits = {"train": root / "transforms_train.json"}
        for name in ("test", "val"):
            if (root / f"transforms_{name}.json").is_file():
                splits["test"] = root / f"transforms_{name}.json"
                break
    elif (root / "transforms.json").is_file():
        splits = {"all": root / "transforms.json"}
    else:
        raise UserError(f"{root}: no transforms.json or transforms_train.json")
    files, poses, intrinsics, split_of = [], [], [], []
    size: Optional[tuple[int, int]] = None
    aabb_scale = 1.0
    for split, json_path in splits.items():
        meta = _read_json(json_path)
        aabb_scale = _number(meta.get("aabb_scale", aabb_scale), "aabb_scale", str(json_path), positive=True)
        for i, frame in enumerate(meta["frames"]):
            source = f"{json_path} frame {i}"
            if not isinstance(frame, dict):
                raise UserError(f"{source}: expected an object with file_path and transform_matrix, "
                                f"got {json.dumps(frame)[:40]}")
            if "file_path" not in frame or "transform_matrix" not in frame:
                raise UserError(f"{source}: needs file_path and transform_matrix")
            if not isinstance(frame["file_path"], str) or not frame["file_path"]:
                raise UserError(f"{source}: file_path must be a file name")
            image = _image_path(json_path.parent, frame["file_path"])
            matrix = _pose(frame["transform_matrix"], source)
            w, h = frame.get("w", meta.get("w")), frame.get("h", meta.get("h"))
            for key, value in (("w", w), ("h", h)):
                if value is not None and (_number(value, key, source, positive=True) != int(value) or value > 2**15):
                    raise UserError(f"{source}: {key} must be a whole number of pixels, got {value}")
            if w is None or h is None:
                if size is None:
                    array = read_rgba(image, source)
                    size = (array.shape[1], array.shape[0])
                w, h = size
            if size is None:
                size = (int(w), int(h))
            if (int(w), int(h)) != size:
                raise UserError(
                    f"{source}: image size {int(w)}x{int(h)} differs from {size[0]}x{size[1]}; all views need one size"
                )
            files.append(image)
            poses.append(matrix[:3])
            intrinsics.append(_intrinsics(meta, frame, size[0], size[1], source))
            split_of.append(split)
    assert size is not None
    width, height = size
    k = torch.tensor(intrinsics, dtype=torch.float32)
    distortion = k[:, 4:] if k[:, 4:].abs().max() > 0 else None
    cameras = Cameras(torch.stack(poses).float(), k[:, 0], k[:, 1], k[:, 2], k[:, 3], width, height,
                      convention or "opengl", distortion)  # type: ignore[arg-type]
    images = stack_images(files, width, height, str(root))
    if "all" in splits:
        train, test = holdout_split(len(files), test_every)
    else:
        train = [i for i, s in enumerate(split_of) if s == "train"]
        test = [i for i, s in enumerate(split_of) if s == "test"] or train[:1]
    half = 1.5 * aabb_scale
    aabb = torch.tensor([-half] * 3 + [half] * 3)
    return PosedViews(images, cameras, train, test, aabb, source=str(root))
