"""Placing radial basis kernels from the signal (NeuRBF, Sec. 3.3).

Sample points get weights from the signal (images: Sobel gradient magnitude; SDFs: ``1 / (|sdf| + eps)``),
normalised by their mean. Weighted k-means (seeding proportional to weight, then Lloyd iterations with
weighted means) places the centres; each kernel's shape comes from the weighted covariance of its
cluster: ``S = alpha * Cov^-1`` (NeuRBF's ``ks = inverse(cov / alpha)``, alpha = 0.5 for images and
SDFs), with the covariance's standard deviations clipped to ``[spacing / 20, 5 * spacing]`` around the
mean kernel spacing ``M^(-1/D)`` so that empty, tiny or degenerate clusters still give sane kernels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def sobel_magnitude(image: torch.Tensor) -> torch.Tensor:
    """Gradient magnitude of an image ``(H, W, C)`` (Sobel, replicated border, summed over channels)
    -> ``(H, W)``."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=image.dtype, device=image.device)
    planes = image.permute(2, 0, 1)[:, None]  # (C, 1, H, W)
    padded = F.pad(planes, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, kx[None, None])
    gy = F.conv2d(padded, kx.T[None, None])
    return (gx.square() + gy.square()).sqrt().sum(0)[0]


def sdf_weights(sdf: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """NeuRBF's SDF sample weights ``1 / (|sdf| + eps)``, shape kept."""
    return 1.0 / (sdf.abs() + eps)


def _assign(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    return cKDTree(centres).query(points, k=1)[1]


def weighted_kmeans(
    points: torch.Tensor, weights: torch.Tensor, n_clusters: int, iterations: int = 10, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted k-means. ``points (P, D)``, ``weights (P,)`` >= 0 -> ``centres (M, D)``, ``labels (P,)``.

    Seeds are drawn without replacement with probability proportional to the weight; a cluster that
    loses all its points keeps its centre. Points of zero weight are ignored.
    """
    if points.ndim != 2 or weights.shape != points.shape[:1]:
        raise ValueError(f"expected points (P, D) and weights (P,), got {tuple(points.shape)}, {tuple(weights.shape)}")
    keep = weights > 0
    pts, w = points[keep].double().cpu(), weights[keep].double().cpu()
    if pts.shape[0] < n_clusters:
        raise ValueError(f"{n_clusters} clusters need at least as many points of positive weight, got {pts.shape[0]}")
    generator = torch.Generator().manual_seed(seed)
    seeds = torch.multinomial(w, n_clusters, replacement=False, generator=generator)
    centres = pts[seeds].clone()
    p_np = pts.numpy()
    for _ in range(iterations):
        labels = torch.from_numpy(_assign(p_np, centres.numpy()))
        mass = torch.zeros(n_clusters, dtype=torch.float64).index_add_(0, labels, w)
        total = torch.zeros_like(centres).index_add_(0, labels, pts * w[:, None])
        filled = mass > 0
        centres[filled] = total[filled] / mass[filled, None]
    labels = torch.from_numpy(_assign(p_np, centres.numpy()))
    full_labels = torch.full((points.shape[0],), -1, dtype=torch.int64)
    full_labels[keep.cpu()] = labels
    return centres.to(points.dtype), full_labels


def cluster_covariances(
    points: torch.Tensor, weights: torch.Tensor, centres: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted covariance of each cluster around its centre: ``(M, D, D)``, and each cluster's weight ``(M,)``.
    Points with label ``-1`` are ignored."""
    keep = labels >= 0
    pts, w, lab = points[keep].double(), weights[keep].double(), labels[keep]
    offset = pts - centres.double()[lab]
    outer = offset[:, :, None] * offset[:, None, :] * w[:, None, None]
    m, d = centres.shape
    cov = torch.zeros(m, d, d, dtype=torch.float64).index_add_(0, lab, outer)
    mass = torch.zeros(m, dtype=torch.float64).index_add_(0, lab, w)
    cov = cov / mass.clamp_min(1e-30)[:, None, None]
    return cov, mass


def clipped_covariances(cov: torch.Tensor, mass: torch.Tensor, n_kernels: int) -> torch.Tensor:
    """Clip the standard deviations (eigenvalues) of ``cov (M, D, D)`` to ``[spacing/20, 5 spacing]``;
    empty clusters get the isotropic ``spacing^2``."""
    d = cov.shape[-1]
    spacing = n_kernels ** (-1.0 / d)
    eye = torch.eye(d, dtype=cov.dtype)
    cov = torch.where((mass > 0)[:, None, None], cov, spacing**2 * eye)
    values, vectors = torch.linalg.eigh(cov)
    values = values.clamp((spacing / 20) ** 2, (5 * spacing) ** 2)
    return vectors @ torch.diag_embed(values) @ vectors.transpose(-1, -2)


def isotropic_tent_scales(cov: torch.Tensor, mass: torch.Tensor, alpha: float = 0.5,
                          width_range: tuple[float, float] = (5e-4, 0.1)) -> torch.Tensor:
    """One tent scale per kernel, the same along every axis (the authors' SDF kernel ``nlin_s``), from the
    cluster covariances ``(M, D, D)`` -> ``(M, D)``.

    Half-width ``w = sqrt(4 trace(Cov) / alpha)`` (the mean squared distance of the cluster's points to its
    centre, over alpha, times 4 so that the tent is 0.5 at that radius), clipped to ``width_range`` (unit
    cube: 1/2000 to 1/10 of its side, as the authors' ``clip_kw_sq``); ``s = 1 / w``. Surface clusters are
    flat: per-axis widths from their covariance would be thin along the normal and leave the points just
    off the surface outside every support, which is why the SDF recipe uses this isotropic width.
    Empty clusters get the smallest width.
    """
    trace = torch.diagonal(cov, dim1=-2, dim2=-1).sum(-1)
    trace = torch.where(mass > 0, trace, torch.zeros_like(trace))
    width = (4.0 * trace / alpha).sqrt().clamp(*width_range)
    return (1.0 / width)[:, None].expand(-1, cov.shape[-1]).clone()


def shapes_from_covariance(cov: torch.Tensor, kernel: str, alpha: float = 0.5) -> torch.Tensor:
    """Kernel shapes from cluster covariances ``(M, D, D)``.

    ``inverse_quadric`` and ``gaussian``: ``S = alpha * Cov^-1`` ``(M, D, D)``. ``tent``: per-dimension
    scales ``s_k = sqrt(alpha / (6 Cov_kk))`` ``(M, D)``, so that a uniform cluster of width ``w`` gets a
    tent of half-width ``w`` at alpha = 0.5 (neighbouring tents overlap).
    """
    if kernel == "tent":
        return (alpha / (6.0 * torch.diagonal(cov, dim1=-2, dim2=-1))).sqrt()
    return alpha * torch.linalg.inv(cov)
