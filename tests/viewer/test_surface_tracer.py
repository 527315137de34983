"""The viewer's surface tracer against analytic shapes: depths, hits and normals agree with the exact
answer and with the plain sphere tracer, at a fraction of its field queries; occupancy logits (no
distance) too; the coarse grid is rebuilt only when the weights change; coarse-to-fine frames match."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fields.apps.viewer import finish
from fields.apps.viewer.camera import ViewCamera
from fields.apps.viewer.geometry_view import GeometryView
from fields.apps.viewer.surface_tracer import SurfaceTracer
from fields.datasets.analytic import Sphere, Torus
from fields.render.coarse_grid import field_grid
from fields.render.orbit import look_at_rays
from fields.render.sphere_tracing import sphere_trace


@pytest.fixture(autouse=True)
def one_thread():
    """Many small tensor ops: on a shared CI machine one thread is several times faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def analytic_depth(origins, directions, center=(0.5, 0.5, 0.5), radius=0.3):
    oc = origins - torch.tensor(center)
    b = (oc * directions).sum(-1)
    disc = b * b - ((oc * oc).sum(-1) - radius**2)
    hit = disc > 0
    return torch.where(hit, -b - disc.clamp_min(0).sqrt(), torch.full_like(b, float("inf"))), hit


class Counted:
    """An analytic surface as a 'field': counts its queries; ``scale`` is a parameter the tests change."""

    def __init__(self, fn):
        self.fn, self.queries = fn, 0
        self.scale = torch.nn.Parameter(torch.ones(()))

    def __call__(self, x):
        self.queries += x.shape[0]
        return self.fn(x) * self.scale.detach()


def tracer_for(fn, lipschitz=1.0, **kwargs):
    counted = Counted(fn)
    return SurfaceTracer(counted, lambda: [counted.scale], lipschitz, chunk=4096, **kwargs), counted


def test_sdf_depths_match_the_sphere_and_the_plain_tracer_with_fewer_queries():
    sphere = Sphere(radius=0.3)
    origins, directions = look_at_rays((0.5, -1.5, 0.5), (0.5, 0.5, 0.5), 64, 64)
    tracer, counted = tracer_for(sphere, hit_epsilon=1e-5)
    finish(tracer.grid(32))
    counted.queries = 0
    hits = finish(tracer.trace(origins, directions, 32))
    depth, hit = analytic_depth(origins, directions)
    assert (hits.hit == hit).float().mean() > 0.995
    both = hits.hit & hit
    assert (hits.depth[both] - depth[both]).abs().max() < 1e-3
    plain_queries = Counted(sphere)
    plain = sphere_trace(plain_queries, origins, directions, hit_epsilon=1e-5)
    assert (plain.hit == hits.hit).float().mean() > 0.995
    assert counted.queries == hits.queries
    # the plain trace takes the same secant-lengthened steps: the grid saves the queries of rays far away
    assert hits.queries < 0.7 * plain_queries.queries, (hits.queries, plain_queries.queries)
    # no ray that misses the sphere's neighbourhood is ever queried
    far = ~hit & (sphere(origins + (origins - 0.5).norm(dim=-1, keepdim=True) * directions) > 0.2)
    assert not hits.touched[far].any()


def test_normals_by_finite_differences():
    sphere = Sphere(radius=0.3)
    origins, directions = look_at_rays((0.5, -1.5, 0.5), (0.5, 0.5, 0.5), 32, 32)
    tracer, counted = tracer_for(sphere)
    hits = finish(tracer.trace(origins, directions, 32))
    points = hits.points[hits.hit]
    counted.queries = 0
    normals = finish(tracer.normals(points))
    assert counted.queries == 4 * len(points)
    expected = torch.nn.functional.normalize(points - 0.5, dim=-1)
    assert (normals * expected).sum(-1).min() > 0.999


def test_occupancy_logits_are_traced_by_their_sign_change():
    torus = Torus()
    logits = lambda x: 8.0 * torch.tanh(40.0 * torus(x))  # noqa: E731 - saturates: not a distance
    origins, directions = look_at_rays((0.5, -1.2, 1.1), (0.5, 0.5, 0.5), 48, 48)
    tracer, _ = tracer_for(logits, lipschitz=None)
    hits = finish(tracer.trace(origins, directions, 48))
    exact = sphere_trace(torus, origins, directions, hit_epsilon=1e-6, max_steps=512)
    assert exact.hit.float().mean() > 0.1
    assert (hits.hit == exact.hit).float().mean() > 0.99
    both = hits.hit & exact.hit
    assert (hits.depth[both] - exact.depth[both]).abs().median() < 1e-3
    assert torus(hits.points[both]).abs().quantile(0.95) < 2e-3


def test_the_coarse_grid_is_rebuilt_only_when_the_weights_change():
    tracer, counted = tracer_for(Sphere(radius=0.3))
    finish(tracer.grid(16))
    assert counted.queries == 17**3
    finish(tracer.grid(16))
    assert counted.queries == 17**3
    with torch.no_grad():
        counted.scale.mul_(1.0)  # an optimiser step writes in place: the version counter moves
    finish(tracer.grid(16))
    assert counted.queries == 2 * 17**3


def test_coarse_to_fine_frames_match_direct_tracing():
    torus = Torus()
    task = SimpleNamespace(field=torch.nn.Linear(1, 1), lipschitz=1.0, _query=lambda x: torus(x + 0.0))
    view = GeometryView(task, chunk=8192)
    camera = ViewCamera.look_at((0.9, -1.0, 0.7), (0.0, 0.0, 0.0), fov=math.radians(45.0))
    image = finish(view.render("depth", camera, 256, 256))  # > 192 px: starts from a 64 px trace
    origins, directions = camera.rays(256, 256)
    exact = sphere_trace(torus, origins.reshape(-1, 3) + 0.5, directions.reshape(-1, 3), hit_epsilon=1e-6,
                         max_steps=512)
    background = np.all(image == image[0, 0], axis=-1).reshape(-1)
    assert exact.hit.float().mean() > 0.1
    assert (torch.from_numpy(~background) == exact.hit).float().mean() > 0.99
    shaded = finish(view.render("shaded", camera, 256, 256))
    assert shaded.std() > 10.0


def test_the_viewer_and_the_render_path_run_one_tracer():
    """The viewer's chunked, scheduled trace is ``fields.render.sphere_tracing`` on the same coarse grid:
    identical depths; and skipping empty space changes no hit of the plain trace (no grid)."""
    torus = Torus()
    origins, directions = look_at_rays((0.5, -1.2, 1.1), (0.5, 0.5, 0.5), 48, 48)
    tracer, _ = tracer_for(torus, hit_epsilon=1e-5)
    viewer = finish(tracer.trace(origins, directions, 32))
    grid = field_grid(torus, 32, 1.0)
    offline = sphere_trace(torus, origins, directions, grid, hit_epsilon=1e-5, max_steps=64)
    assert torch.equal(viewer.hit, offline.hit) and torch.equal(viewer.depth, offline.depth)
    assert viewer.queries == offline.queries
    plain = sphere_trace(torus, origins, directions, hit_epsilon=1e-5, max_steps=512)
    assert plain.hit.float().mean() > 0.1
    assert (plain.hit == offline.hit).float().mean() > 0.995
    both = plain.hit & offline.hit
    error = (plain.depth[both] - offline.depth[both]).abs()
    # a ray grazing the surface may pass its closest point by the grid's shortest step (h / 16) before it hits
    assert error.median() < 1e-4 and error.max() < 2 / 32 / 16, (error.median(), error.max())
    assert offline.queries < 0.7 * plain.queries, (offline.queries, plain.queries)
