"""Fitting many tri-plane occupancy fields at once ("Neural Processing of Tri-Plane Hybrid Neural Fields").

Each shape ``s`` gets its own field: three ``R x R`` planes of ``C`` channels (xy, xz, yz), sampled
bilinearly and summed, concatenated with a positional encoding of ``xyz`` (``3 + 6 L`` values, 63 for
``L = 10``) and decoded by its own small MLP to an occupancy logit. All ``S`` fields are parameters of
one module: planes ``(S, 3, C, R, R)`` and MLP weights ``(S, d_in, d_out)``, evaluated with
``grid_sample`` over ``S * 3`` planes and ``baddbmm`` for the per-shape layers, so one optimiser step
updates every shape without a Python loop over shapes.

Choices for CPU budgets (the paper: 32x32x16 planes, a 79-64-64-64-1 sine MLP, Adam 1e-4 for 1000 steps
at 50k points): planes and MLP get separate learning rates, planes much higher, so that the shape is
written into the planes (which the classifiers read) rather than memorised by the MLP; the MLP uses
``sin`` with SIREN's hidden-layer initialisation and no ``omega_0`` boost (the encoding already carries
the high frequencies). The loss is the sum over shapes of each shape's mean BCE, so with Adam each shape
follows exactly the trajectory it would follow if fitted alone (tested).

Initialisation: with ``shared_init`` (default) every shape starts from the same planes and the same MLP
weights, so a channel means roughly the same thing in every fit and a CNN-style head (the pyramid) can
read the stacked planes; with independent inits the channel order (and more) is arbitrary per fit, which
only the channel-set Transformer is built to ignore. Measured (``benchmarks.heads``, 12 classes, 400
steps, ms_mlp / maxim / pool mixers): pyramid held-out 0.60 / 0.63 / 0.45 from a shared init, 0.23 /
0.15 / 0.17 from independent inits, where it memorises the training set (train 1.0); the channel set
0.69 and 0.66. (The authors' fitting script draws the planes and the MLPs independently per shape; the
shared start is our choice for the order-sensitive heads.)
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from fields.datasets.head_data import TriplaneFitConfig  # noqa: F401  (data.shapes.fit)




def positional_encoding(x: torch.Tensor, n_frequencies: int) -> torch.Tensor:
    """``(..., 3) -> (..., 3 + 6L)``: ``x, sin(2^k pi x), cos(2^k pi x)`` for ``k < L``."""
    if n_frequencies == 0:
        return x
    freqs = (2.0 ** torch.arange(n_frequencies, dtype=x.dtype, device=x.device)) * math.pi
    angles = (x[..., None, :] * freqs[:, None]).flatten(-2)
    return torch.cat((x, torch.sin(angles), torch.cos(angles)), dim=-1)


def sample_planes(planes: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Planes ``(S, 3, C, R, R)``, points ``(S, N, 3)`` in [-1, 1] -> summed features ``(S, N, C)``.

    Plane 0 is indexed by (x, y), plane 1 by (x, z), plane 2 by (y, z); ``grid_sample`` reads the
    first grid coordinate along the plane's last (width) axis."""
    S, _, C, R, _ = planes.shape
    uv = torch.stack((x[..., [0, 1]], x[..., [0, 2]], x[..., [1, 2]]), dim=1)  # (S, 3, N, 2)
    out = F.grid_sample(planes.reshape(S * 3, C, R, R), uv.reshape(S * 3, 1, -1, 2), mode="bilinear",
                        padding_mode="border", align_corners=True)  # (S*3, C, 1, N)
    return out.reshape(S, 3, C, -1).sum(1).transpose(1, 2)


class BatchedTriplaneField(nn.Module):
    """``S`` independent tri-plane fields; ``forward(x (S, N, 3) in [-1, 1]) -> logits (S, N)``."""

    def __init__(self, n_shapes: int, config: TriplaneFitConfig, generator: Optional[torch.Generator] = None):
        super().__init__()
        c = config
        self.config = c
        n_init = 1 if c.shared_init else n_shapes

        def draw(shape: tuple[int, ...], uniform: bool) -> torch.Tensor:
            t = (torch.rand if uniform else torch.randn)((n_init,) + shape, generator=generator)
            return t.expand((n_shapes,) + shape).clone()

        self.planes = nn.Parameter(draw((3, c.channels, c.resolution, c.resolution), False) * c.plane_init_std)
        widths = [c.channels + 3 + 6 * c.pe_frequencies] + [c.hidden] * c.hidden_layers + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            # U(+-sqrt(6/fan_in)): SIREN's hidden-layer init for sine (the first layer too: the encoding
            # is already in [-1, 1]), Kaiming-uniform for relu; the output layer U(+-sqrt(1/fan_in))
            bound = math.sqrt((1.0 if i == len(widths) - 2 else 6.0) / a)
            self.weights.append(nn.Parameter((draw((a, b), True) * 2 - 1) * bound))
            self.biases.append(nn.Parameter((draw((1, b), True) * 2 - 1) / math.sqrt(a)))

    @property
    def n_shapes(self) -> int:
        return int(self.planes.shape[0])

    def subset(self, index: torch.Tensor | slice) -> "BatchedTriplaneField":
        """A new module holding copies of the fields ``index``."""
        out = BatchedTriplaneField.__new__(BatchedTriplaneField)
        nn.Module.__init__(out)
        out.config = self.config
        out.planes = nn.Parameter(self.planes.detach()[index].clone())
        out.weights = nn.ParameterList(nn.Parameter(w.detach()[index].clone()) for w in self.weights)
        out.biases = nn.ParameterList(nn.Parameter(b.detach()[index].clone()) for b in self.biases)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.cat((sample_planes(self.planes, x), positional_encoding(x, self.config.pe_frequencies)), dim=-1)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.sin(h) if self.config.activation == "sine" else torch.relu(h)
        return h[..., 0]

    def param_groups(self) -> list[dict]:
        mlp = list(self.weights) + list(self.biases)
        return [{"params": [self.planes], "lr": self.config.plane_lr}, {"params": mlp, "lr": self.config.mlp_lr}]


def training_pool(shapes, config: TriplaneFitConfig, generator: Optional[torch.Generator] = None,
                  surface: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Labelled points per shape: ``(S, P, 3)`` in [-1, 1] and occupancy ``(S, P)`` float. A share
    ``surface_fraction`` are surface samples jittered by ``surface_jitter``, the rest uniform."""
    S, P = len(shapes), config.pool_points
    n_surface = int(round(P * config.surface_fraction))
    points = torch.rand(S, P, 3, generator=generator) * 2 - 1
    if n_surface:
        if surface is None:
            surface = shapes.surface_points(min(n_surface, 4096), generator)
        pick = torch.randint(surface.shape[1], (S, n_surface), generator=generator)
        near = torch.gather(surface, 1, pick[..., None].expand(-1, -1, 3))
        near = near + config.surface_jitter * torch.randn(near.shape, generator=generator)
        points[:, :n_surface] = near.clamp(-1, 1)
    with torch.no_grad():
        labels = shapes.occupancy(points).float()
    return points, labels


def fit_fields(field: BatchedTriplaneField, points: torch.Tensor, labels: torch.Tensor, steps: int,
               generator: Optional[torch.Generator] = None, points_per_step: Optional[int] = None) -> list[float]:
    """Fit every field of ``field`` to its pool ``points (S, P, 3)``, ``labels (S, P)``; each step
    draws the same ``points_per_step`` pool indices for every shape. Returns the mean loss per step."""
    n = points_per_step or field.config.points_per_step
    optimiser = torch.optim.Adam(field.param_groups(), betas=(0.9, 0.99), eps=1e-15)
    losses = []
    for _ in range(steps):
        index = torch.randint(points.shape[1], (n,), generator=generator)
        logits = field(points[:, index])
        loss = F.binary_cross_entropy_with_logits(logits, labels[:, index], reduction="none").mean(1).sum()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()) / field.n_shapes)
    return losses


@torch.no_grad()
def field_iou(field: BatchedTriplaneField, shapes, n_points: int, generator: Optional[torch.Generator] = None,
              chunk: int = 16384) -> torch.Tensor:
    """Volumetric IoU ``(S,)`` of the fitted occupancy against the analytic shapes, on uniform points."""
    inter = torch.zeros(field.n_shapes)
    union = torch.zeros(field.n_shapes)
    for start in range(0, n_points, chunk):
        x = torch.rand(field.n_shapes, min(chunk, n_points - start), 3, generator=generator) * 2 - 1
        pred, true = field(x) > 0, shapes.occupancy(x)
        inter += (pred & true).sum(1)
        union += (pred | true).sum(1)
    return inter / union.clamp_min(1)
