"""Geometry metrics: volumetric IoU, Chamfer distance, normal consistency, F-score.

Conventions (Occupancy Networks / ConvONet): Chamfer-L1 is the mean Euclidean distance from each sampled
point to the nearest point of the other surface, Chamfer-L2 the mean squared distance; both directions
are reported and the symmetric value is their average. Normal consistency is the mean ``|n_a . n_b|``
over nearest-neighbour pairs, both directions averaged (orientation-free). The F-score at threshold
``tau`` is the harmonic mean of precision (predicted points within ``tau`` of the reference) and recall
(reference points within ``tau`` of the prediction). Distances are in the units of the points given.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from fields.datasets.mesh import sample_surface


def volumetric_iou(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> float:
    """IoU of two boolean occupancies sampled at the same points ``(N,)``; 1.0 when both are empty."""
    pred, target = np.asarray(pred, dtype=bool), np.asarray(target, dtype=bool)
    union = np.logical_or(pred, target).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(pred, target).sum() / union)


def _nearest(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial import cKDTree

    distance, index = cKDTree(target).query(source, k=1, workers=-1)
    return distance, index


def surface_metrics(
    pred_points: np.ndarray,
    pred_normals: Optional[np.ndarray],
    ref_points: np.ndarray,
    ref_normals: Optional[np.ndarray],
    fscore_threshold: float,
) -> dict[str, float]:
    """Chamfer (L1, L2, both directions), normal consistency (when both have normals) and F-score
    between two point samples of surfaces, ``(N, 3)`` and ``(M, 3)``."""
    if len(pred_points) == 0 or len(ref_points) == 0:
        raise ValueError("surface metrics need points on both surfaces")
    d_pred, i_pred = _nearest(pred_points, ref_points)  # prediction -> reference (accuracy)
    d_ref, i_ref = _nearest(ref_points, pred_points)  # reference -> prediction (completeness)
    out = {
        "chamfer_l1": float(0.5 * (d_pred.mean() + d_ref.mean())),
        "chamfer_l2": float(0.5 * ((d_pred**2).mean() + (d_ref**2).mean())),
        "chamfer_l1_pred_to_ref": float(d_pred.mean()),
        "chamfer_l1_ref_to_pred": float(d_ref.mean()),
        "chamfer_l2_pred_to_ref": float((d_pred**2).mean()),
        "chamfer_l2_ref_to_pred": float((d_ref**2).mean()),
    }
    if pred_normals is not None and ref_normals is not None:
        a = np.abs((pred_normals * ref_normals[i_pred]).sum(-1)).mean()
        b = np.abs((ref_normals * pred_normals[i_ref]).sum(-1)).mean()
        out["normal_consistency"] = float(0.5 * (a + b))
    precision = float((d_pred < fscore_threshold).mean())
    recall = float((d_ref < fscore_threshold).mean())
    out["fscore"] = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    out["fscore_threshold"] = float(fscore_threshold)
    return out


def mesh_metrics(pred_mesh, ref_mesh, n_points: int = 100_000, fscore_threshold: Optional[float] = None,
                 seed: int = 0) -> dict[str, float]:
    """Surface metrics between two trimeshes from ``n_points`` area-uniform samples on each.
    ``fscore_threshold`` defaults to 1% of the reference's longest bounding-box side."""
    rng = np.random.default_rng(seed)
    pred_points, pred_normals = sample_surface(pred_mesh, n_points, rng)
    ref_points, ref_normals = sample_surface(ref_mesh, n_points, rng)
    if fscore_threshold is None:
        fscore_threshold = 0.01 * float(np.ptp(np.asarray(ref_mesh.vertices), axis=0).max())
    return surface_metrics(pred_points, pred_normals, ref_points, ref_normals, fscore_threshold)
