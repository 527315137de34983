"""Comparing reconstructed cameras with true ones: the similarity transform (Umeyama 1991) that best maps
one set of camera centres onto another, and the pose errors left after it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Similarity:
    scale: float
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """``(n, 3)`` -> ``(n, 3)``."""
        return self.scale * points @ self.rotation.T + self.translation


def umeyama(src: np.ndarray, dst: np.ndarray) -> Similarity:
    """Least-squares ``s, R, t`` with ``dst ~ s R src + t`` (a proper rotation); ``src``, ``dst``: ``(n, 3)``."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sigma, vt = np.linalg.svd(b.T @ a / len(src))
    sign = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(sigma) @ sign) / (a ** 2).sum(1).mean())
    return Similarity(scale, rotation, mu_d - scale * rotation @ mu_s)


@dataclass
class PoseErrors:
    """After aligning the estimated centres to the true ones: mean/max position error as a fraction of the
    true scene extent (the diagonal of the cameras' box) and mean/max rotation error in degrees."""

    position_mean: float
    position_max: float
    rotation_mean_deg: float
    rotation_max_deg: float


def pose_errors(estimated_c2w: np.ndarray, true_c2w: np.ndarray) -> PoseErrors:
    """``(n, 3, 4)`` camera-to-world matrices of the same views (same camera convention) -> errors."""
    sim = umeyama(estimated_c2w[:, :, 3], true_c2w[:, :, 3])
    centres = sim.apply(estimated_c2w[:, :, 3])
    extent = float(np.linalg.norm(true_c2w[:, :, 3].max(0) - true_c2w[:, :, 3].min(0)))
    position = np.linalg.norm(centres - true_c2w[:, :, 3], axis=1) / extent
    rotations = np.einsum("ij,njk->nik", sim.rotation, estimated_c2w[:, :, :3])
    relative = np.einsum("nji,njk->nik", rotations, true_c2w[:, :, :3])
    cos = np.clip((np.trace(relative, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
    angles = np.degrees(np.arccos(cos))
    return PoseErrors(float(position.mean()), float(position.max()), float(angles.mean()), float(angles.max()))


def rotation_errors_deg(estimated_c2w: np.ndarray, true_c2w: np.ndarray) -> np.ndarray:
    """``(n,)`` angles (degrees) of ``R_est R_true^T`` less their mean rotation: the per-camera rotation
    errors without the common turn (a gauge freedom of refined cameras; small angles)."""
    relative = np.einsum("nij,nkj->nik", estimated_c2w[:, :, :3], true_c2w[:, :, :3])
    cos = np.clip((np.trace(relative, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
    theta = np.arccos(cos)
    axis = np.stack((relative[:, 2, 1] - relative[:, 1, 2], relative[:, 0, 2] - relative[:, 2, 0],
                     relative[:, 1, 0] - relative[:, 0, 1]), -1)
    scale = np.where(theta < 1e-6, 0.5, theta / (2 * np.sin(np.maximum(theta, 1e-12))))
    omega = axis * scale[:, None]
    return np.degrees(np.linalg.norm(omega - omega.mean(0), axis=1))
