"""NeuRBF: adaptive radial basis functions with multi-frequency sinusoidal composition (Chen et al. 2023).

For a query ``x`` with its ``K`` nearest kernels ``U(x)`` (neighbour lists precomputed on a grid, see
``neurbf_kernels``):

    phi_i(x) = kernel(x - c_i; S_i)                                 (inverse quadric, Gaussian or tent)
    phi_i(x) <- phi_i(x) / sum_{j in U(x)} phi_j(x)   (denominator detached; ``normalise``)
    f_rbf(x) = sum_{i in U(x)} w_i * sin(phi_i(x) * m)              (``(P,)``, m log-spaced, no parameters)

``w_i`` is a ``P``-vector per kernel (U(-1e-4, 1e-4)). Without ``sinusoidal`` the composition is
``sum_i w_i phi_i``. With a ``grid`` branch (hash or dense grid) the output is ``concat(f_grid, f_rbf)``.
The paper adds a shared bias ``b`` after the concatenation; it is left out because the decoder's first
layer has a bias already. Output ``(..., grid.out_dim + P)``.

Centres and shapes are set by ``initialise(samples, weights)`` (weighted k-means, see ``rbf_init``),
which a task calls before training, and are frozen by default (as in the authors' code): the parameter
count then leaves them out. Before that they sit on a regular lattice with isotropic shapes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fields.config.encoders import NeuRBFConfig
from fields.encoders.base import ENCODERS, Encoder, flatten_batch, log
from fields.encoders.neurbf_kernels import NeighbourGrid, auto_resolution, kernel_values, n_shape_params, pack_symmetric
from fields.encoders.rbf_init import (
    clipped_covariances,
    cluster_covariances,
    isotropic_tent_scales,
    shapes_from_covariance,
    weighted_kmeans,
)


@ENCODERS.register("neurbf", aliases=("NeuRBF", "rbf"))
class NeuRBF(Encoder):
    Config = NeuRBFConfig

    def __init__(self, config: "NeuRBF.Config", in_dim: int):
        super().__init__()
        self.config = config
        self.in_dim = in_dim
        c = config
        self.grid = ENCODERS.build(c.grid, in_dim) if c.grid is not None else None
        self.out_dim = (self.grid.out_dim if self.grid is not None else 0) + c.n_frequencies
        centres, shapes = self._lattice(c.n_kernels, in_dim, c.kernel)
        self.centres = nn.Parameter(centres, requires_grad=c.learn_centres)
        self.shapes = nn.Parameter(shapes, requires_grad=c.learn_shapes)
        self.features = nn.Parameter(
            torch.empty(c.n_kernels, c.n_frequencies).uniform_(-c.feature_init, c.feature_init)
        )
        low, high = c.frequency_range
        self.register_buffer(
            "frequencies", torch.logspace(math.log2(low), math.log2(high), c.n_frequencies, base=2.0), persistent=False
        )
        # saved with the model, so a resumed or reloaded run keeps its k-means placement
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        self._neighbours: NeighbourGrid | None = None
        self._built_for: tuple | None = None

    @staticmethod
    def _lattice(n: int, dim: int, kernel: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Centres on a regular lattice (cell centres, first ``n`` in raster order) with isotropic shapes
        reaching half the spacing (the authors' regular initialisation)."""
        side = math.ceil(n ** (1.0 / dim) - 1e-9)
        flat = torch.arange(n)
        centres = torch.stack([((flat // side**i) % side).double() for i in range(dim)], -1).add_(0.5).div_(side)
        spacing = 1.0 / side
        if kernel == "tent":
            shapes = torch.full((n, dim), 1.0 / spacing, dtype=torch.float64)
        else:
            shapes = pack_symmetric(torch.eye(dim, dtype=torch.float64) / (spacing / 2) ** 2).expand(n, -1).clone()
        return centres.float(), shapes.float()

    @property
    def needs_initialise(self) -> bool:
        """True until ``initialise`` ran (or a checkpoint holding an initialised model was loaded)."""
        return not bool(self.initialised)

    @torch.no_grad()
    def initialise(self, samples: torch.Tensor, weights: torch.Tensor) -> None:
        """Place the kernels from the signal: ``samples (S, in_dim)`` in [0, 1], ``weights (S,)`` >= 0
        (e.g. gradient magnitudes), by weighted k-means; shapes from the clusters' covariances."""
        c = self.config
        samples = samples.detach().reshape(-1, self.in_dim).cpu().double()
        weights = weights.detach().reshape(-1).cpu().double()
        if samples.shape[0] != weights.shape[0]:
            raise ValueError(f"{samples.shape[0]} samples but {weights.shape[0]} weights")
        if not torch.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("initialisation weights must be finite and non-negative")
        if weights.sum() <= 0:
            weights = torch.ones_like(weights)
        weights = weights / weights.mean()
        if samples.shape[0] > c.init_samples:
            pick = torch.randperm(samples.shape[0], generator=torch.Generator().manual_seed(c.seed))[: c.init_samples]
            samples, weights = samples[pick], weights[pick]
        if int((weights > 0).sum()) < c.n_kernels:  # too few informative samples: use every sample
            weights = weights + weights.mean() * 1e-3
        centres, labels = weighted_kmeans(samples, weights, c.n_kernels, c.kmeans_iterations, c.seed)
        cov, mass = cluster_covariances(samples, weights, centres, labels)
        if c.kernel == "tent" and c.tent_shape == "isotropic":
            shapes = isotropic_tent_scales(cov, mass, c.shape_alpha)
        else:
            shapes = shapes_from_covariance(clipped_covariances(cov, mass, c.n_kernels), c.kernel, c.shape_alpha)
        if c.kernel != "tent":
            shapes = pack_symmetric(shapes)
        self.centres.copy_(centres.clamp(0, 1).to(self.centres))
        self.shapes.copy_(shapes.to(self.shapes))
        self.initialised.fill_(True)
        self._neighbours = None
        log.info("neurbf: %d kernels placed by weighted k-means on %d samples", c.n_kernels, samples.shape[0])

    def neighbour_grid(self) -> NeighbourGrid:
        """The neighbour lists for the current centres (rebuilt when the centres change)."""
        key = (self.centres._version, self.centres.data_ptr(), self.centres.device)
        if self._neighbours is None or self._built_for != key:
            c = self.config
            resolution = c.neighbour_resolution or auto_resolution(c.n_kernels, self.in_dim)
            self._neighbours = NeighbourGrid(self.centres, c.n_neighbours, resolution, c.max_candidates).to(
                self.centres.device
            )
            self._built_for = key
        return self._neighbours

    def neighbours(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_dim)`` -> indices of the ``K`` nearest kernels ``(N, K)``."""
        return self.neighbour_grid().query(x, self.centres)

    def rbf_values(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Kernel values ``(N, K)`` of the kernels ``index (N, K)`` at ``x (N, in_dim)``, normalised if set."""
        diff = x[:, None, :] - self.centres[index]
        phi = kernel_values(self.config.kernel, diff, self.shapes[index])
        if self.config.normalise:
            phi = phi / (phi.detach().sum(-1, keepdim=True) + 1e-8)
        return phi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat, lead = flatten_batch(x, self.in_dim)
        flat = flat.clamp(0.0, 1.0)
        index = self.neighbours(flat)
        phi = self.rbf_values(flat, index)  # (N, K)
        weights = self.features[index]  # (N, K, P)
        if self.config.sinusoidal:
            basis = torch.sin(phi[..., None] * self.frequencies.to(phi.dtype))
        else:
            basis = phi[..., None]
        out = (weights * basis).sum(1)
        if self.grid is not None:
            out = torch.cat((self.grid(flat), out), dim=-1)
        return out.reshape(*lead, self.out_dim)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, kernels={self.config.n_kernels}, kernel={self.config.kernel}"


def kernels_for_budget(budget: int, in_dim: int, config: "NeuRBF.Config", other_params: int = 0) -> int:
    """Number of kernels whose trainable parameters (plus ``other_params``, e.g. grid branch and
    decoder) add up to ``budget``: NeuRBF's ``n_kernel: auto``."""
    per_kernel = config.n_frequencies
    if config.learn_centres:
        per_kernel += in_dim
    if config.learn_shapes:
        per_kernel += n_shape_params(config.kernel, in_dim)
    return max(config.n_neighbours, (budget - other_params) // per_kernel)
