"""Sphere tracing against an analytic sphere: depth, hits, normals, and non-exact SDFs."""

from __future__ import annotations

import torch

from fields.datasets.analytic import Sphere
from fields.render.orbit import look_at_rays
from fields.render.shading import sdf_normals
from fields.render.sphere_tracing import sphere_trace
from fields.render.turntable import render_view


def analytic_depth(origins, directions, center, radius):
    oc = origins - torch.tensor(center)
    b = (oc * directions).sum(-1)
    c = (oc * oc).sum(-1) - radius**2
    disc = b * b - c
    hit = disc > 0
    return torch.where(hit, -b - disc.clamp_min(0).sqrt(), torch.full_like(b, float("inf"))), hit


def test_depth_of_a_sphere():
    sphere = Sphere(radius=0.3)
    origins, directions = look_at_rays((0.5, -1.5, 0.5), (0.5, 0.5, 0.5), 48, 48)
    trace = sphere_trace(sphere, origins, directions, hit_epsilon=1e-5)
    depth, hit = analytic_depth(origins, directions, (0.5, 0.5, 0.5), 0.3)
    # rays grazing the silhouette may take all their steps: compare away from it
    margin = (sphere(origins + (origins - 0.5).norm(dim=-1, keepdim=True) * directions).abs() > 0)
    assert (trace.hit == hit).float().mean() > 0.99
    both = trace.hit & hit & margin
    assert (trace.depth[both] - depth[both]).abs().max() < 1e-4
    centre = 24 * 48 + 24
    assert abs(trace.depth[centre].item() - (2.0 - 0.3)) < 2e-3
    normals = sdf_normals(sphere, trace.points[both])
    expected = torch.nn.functional.normalize(trace.points[both] - 0.5, dim=-1)
    assert (normals * expected).sum(-1).min() > 0.999


def test_non_exact_sdfs_still_land_on_the_surface():
    sphere = Sphere(radius=0.3)
    origins, directions = look_at_rays((0.5, -1.5, 0.5), (0.5, 0.5, 0.5), 32, 32)
    depth, hit = analytic_depth(origins, directions, (0.5, 0.5, 0.5), 0.3)
    steep = lambda x: 3.0 * sphere(x)  # noqa: E731 - overestimates the distance: would step through
    trace = sphere_trace(steep, origins, directions, lipschitz=3.0, hit_epsilon=1e-5)
    both = trace.hit & hit
    assert both.sum() > 0.95 * hit.sum()
    assert (trace.depth[both] - depth[both]).abs().max() < 1e-3
    # a step bound that is too optimistic overshoots; the secant step puts the hit back near the surface
    loose = sphere_trace(lambda x: 1.5 * sphere(x), origins, directions, step_scale=1.0, hit_epsilon=1e-5)
    both = loose.hit & hit
    assert both.sum() > 0.9 * hit.sum()
    assert (loose.depth[both] - depth[both]).abs().median() < 2e-3


def test_render_view_images():
    view = render_view(Sphere(radius=0.3), (0.5, -1.5, 0.5), 40, 30)
    assert view["shaded"].shape == (30, 40, 3) and view["depth"].shape == (30, 40)
    assert view["hit"][15, 20] and not view["hit"][0, 0]
    assert (view["shaded"][0, 0] == 1.0).all() and view["shaded"][15, 20].max() < 1.0
