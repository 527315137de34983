"""The standard 3DGS ``.ply``: what the reference code writes and common splat viewers read.

One ``vertex`` element, binary little endian, float32 properties in this order:
``x y z nx ny nz f_dc_0..2 f_rest_0..(3K-4) opacity scale_0..2 rot_0..3``; ``f_rest`` is channel-major
(all of red's higher-band coefficients, then green's, then blue's), ``opacity`` is the logit, ``scale_*``
the log scales, ``rot_*`` the quaternion ``(w, x, y, z)``; normals are zero. ``read_ply`` reads any
vertex PLY (binary or ASCII), so a plain point cloud can seed the Gaussians too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fields.errors import UserError
from fields.io.atomic import atomic_path

_TYPES = {
    "char": "i1",
    "uchar": "u1",
    "int8": "i1",
    "uint8": "u1",
    "short": "i2",
    "ushort": "u2",
    "int16": "i2",
    "uint16": "u2",
    "int": "i4",
    "uint": "u4",
    "int32": "i4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}


def splat_properties(n_rest: int) -> list[str]:
    """Property names of the 3DGS layout with ``n_rest`` higher-band coefficients per channel."""
    return (
        ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
        + [f"f_rest_{i}" for i in range(3 * n_rest)]
        + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    )


def write_splat_ply(path: str | Path, tensors: dict[str, torch.Tensor]) -> Path:
    """Write Gaussians (``fields.models.gaussians.PARAMS`` tensors) as a 3DGS ``.ply``, atomically."""
    t = {k: v.detach().float().cpu() for k, v in tensors.items()}
    n, n_rest = t["means"].shape[0], t["sh_rest"].shape[1]
    columns = [
        t["means"],
        torch.zeros(n, 3),
        t["sh_dc"][:, 0, :],
        t["sh_rest"].transpose(1, 2).reshape(n, 3 * n_rest),
        t["opacity_logits"][:, None],
        t["log_scales"],
        t["quats"],
    ]
    data = torch.cat(columns, 1).numpy().astype("<f4")
    names = splat_properties(n_rest)
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property float {name}" for name in names] + ["end_header"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(("\n".join(header) + "\n").encode("ascii"))
        handle.write(np.ascontiguousarray(data).tobytes())
    return path


def read_ply(path: str | Path) -> dict[str, np.ndarray]:
    """The ``vertex`` element of a PLY file (binary little/big endian or ASCII): property -> ``(N,)`` array."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: PLY file not found")
    raw = path.read_bytes()
    end = raw.find(b"end_header")
    if not raw.startswith(b"ply") or end < 0:
        raise UserError(f"{path}: not a PLY file")
    body = raw[raw.index(b"\n", end) + 1 :]
    lines = raw[:end].decode("ascii", "replace").splitlines()
    fmt, elements = "", []  # [(name, count, [(property, dtype)])]
    for line in lines[1:]:
        parts = line.split()
        if not parts or parts[0] in ("comment", "obj_info"):
            continue
        if parts[0] == "format":
            fmt = parts[1]
        elif parts[0] == "element":
            elements.append((parts[1], int(parts[2]), []))
        elif parts[0] == "property" and elements:
            if parts[1] == "list":
                elements[-1][2].append((parts[-1], None))
            elif parts[1] in _TYPES:
                elements[-1][2].append((parts[2], _TYPES[parts[1]]))
            else:
                raise UserError(f"{path}: unknown PLY property type {parts[1]}")
    names = [e[0] for e in elements]
    if "vertex" not in names:
        raise UserError(f"{path}: the PLY file has no vertex element")
    if names.index("vertex") != 0 and fmt != "ascii":
        raise UserError(f"{path}: the vertex element must come first in a binary PLY")
    _, count, props = elements[names.index("vertex")]
    if any(dtype is None for _, dtype in props):
        raise UserError(f"{path}: list properties in the vertex element are not supported")
    try:
        if fmt == "ascii":
            text = body.decode("ascii").split("\n")
            skip = sum(e[1] for e in elements[: names.index("vertex")])
            table = np.loadtxt(text[skip : skip + count], ndmin=2)
            return {name: table[:, i] for i, (name, _) in enumerate(props)}
        order = {"binary_little_endian": "<", "binary_big_endian": ">"}[fmt]
        record = np.dtype([(name, order + dtype) for name, dtype in props])
        array = np.frombuffer(body, dtype=record, count=count)
    except (KeyError, ValueError) as err:
        raise UserError(f"{path}: malformed PLY ({type(err).__name__}: {err})") from None
    return {name: np.array(array[name]) for name, _ in props}


def is_splat_ply(vertex: dict[str, np.ndarray]) -> bool:
    return all(key in vertex for key in ("f_dc_0", "opacity", "scale_0", "rot_0"))


def splat_tensors(vertex: dict[str, np.ndarray], sh_degree: int) -> dict[str, torch.Tensor]:
    """A 3DGS ``.ply``'s vertex table -> Gaussian tensors with ``(sh_degree + 1)**2`` SH coefficients (bands
    the file lacks are zero, extra ones dropped)."""

    def stack(keys: list[str]) -> torch.Tensor:
        return torch.from_numpy(np.stack([vertex[k] for k in keys], 1).astype(np.float32))

    n = len(vertex["x"])
    n_file = sum(1 for k in vertex if k.startswith("f_rest_")) // 3
    n_rest = (sh_degree + 1) ** 2 - 1
    rest_file = stack([f"f_rest_{i}" for i in range(3 * n_file)]).reshape(n, 3, n_file).transpose(1, 2)
    rest = torch.zeros(n, n_rest, 3)
    k = min(n_rest, n_file)
    rest[:, :k] = rest_file[:, :k]
    return {
        "means": stack(["x", "y", "z"]),
        "log_scales": stack(["scale_0", "scale_1", "scale_2"]),
        "quats": stack(["rot_0", "rot_1", "rot_2", "rot_3"]),
        "opacity_logits": stack(["opacity"])[:, 0],
        "sh_dc": stack(["f_dc_0", "f_dc_1", "f_dc_2"])[:, None, :],
        "sh_rest": rest,
    }
