"""Pose refinement parts: the gauge projection, corrected world poses, the splat correction (moving the
Gaussians is moving the camera), the schedule, and the perturbation used by the checks."""

from __future__ import annotations

import json
import math

import numpy as np
import torch

from fields.models.camera_optimizer import CameraOptimizer, so3_exp, so3_log, transform_gaussians
from fields.render.cameras import Cameras, image_rays


def test_gauge_motion_is_projected_out_and_held_out_views_stay():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(10, 3, generator=g)
    train = [1, 2, 3, 5, 6, 7, 9]
    opt = CameraOptimizer(10, train_indices=train, centres=centres)
    with torch.no_grad():
        opt.pose_adjustment.copy_(torch.randn(10, 6, generator=g))
    adj = opt.corrections().detach()
    assert torch.allclose(adj[train].mean(0), torch.zeros(6), atol=1e-6)  # no common turn or shift
    spread = centres[train] - centres[train].mean(0)
    assert abs(float((adj[train, 3:] * spread).sum())) < 1e-5  # no common scaling about the centroid
    assert torch.equal(adj[[0, 4, 8]], torch.zeros(3, 6))
    # a pure gauge motion (one rotation vector, one shift, one scaling for all) corrects nothing
    with torch.no_grad():
        opt.pose_adjustment.zero_()
        opt.pose_adjustment[:, :3] = torch.tensor([0.1, -0.2, 0.05])
        opt.pose_adjustment[:, 3:] = torch.tensor([0.3, 0.1, -0.2]) + 0.05 * (centres - centres[train].mean(0))
    assert opt.corrections().abs().max() < 1e-6


def test_corrected_poses_give_the_corrected_rays():
    c2w = torch.eye(4)[:3].repeat(3, 1, 1)
    c2w[:, :, :3] = so3_exp(torch.tensor([[0.1, 0.2, 0.3], [0.0, -0.4, 0.1], [0.5, 0.0, 0.0]]))
    c2w[:, :, 3] = torch.tensor([[1.0, 2, 3], [0, 0, 4], [-2, 1, 0]])
    cams = Cameras(c2w, torch.full((3,), 40.0), torch.full((3,), 40.0), torch.full((3,), 16.0),
                   torch.full((3,), 12.0), 32, 24, "opencv")
    opt = CameraOptimizer(3)
    with torch.no_grad():
        opt.pose_adjustment.copy_(torch.tensor([[0.02, -0.01, 0.03, 0.1, 0.0, -0.05], [0.0, 0.01, -0.02, 0.0, 0.2, 0.0],
                                                [-0.01, 0.0, 0.0, -0.1, -0.1, 0.1]]))
    scale = 2.5  # world units per unit of the corrections
    moved = Cameras(opt.corrected_c2w(c2w, scale).detach(), cams.fx, cams.fy, cams.cx, cams.cy, 32, 24, "opencv")
    for i in range(3):
        rays = image_rays(cams, i)
        o, d = opt.apply(rays.origins / scale, rays.directions, rays.cameras)
        expected = image_rays(moved, i)
        assert torch.allclose(o.detach() * scale, expected.origins, atol=1e-5)
        assert torch.allclose(d.detach(), expected.directions, atol=1e-5)
    turn = so3_log(moved.c2w[:, :, :3] @ c2w[:, :, :3].transpose(1, 2))
    assert torch.allclose(turn, opt.corrections()[:, :3].detach(), atol=1e-5)


def test_moving_the_gaussians_is_moving_the_camera_and_the_pose_gets_gradients():
    from fields.render.splat import rasterize_gaussians
    from tests.splat.scenes import random_scene

    s = random_scene(200, 64, 48, seed=1, hard=False)
    means, quats = s["means"].detach(), s["quats"].detach()
    quats = quats / quats.norm(dim=-1, keepdim=True)
    viewmat = s["viewmat"]
    c2w = torch.linalg.inv(viewmat)
    centre = c2w[:3, 3]
    omega = torch.tensor([0.03, -0.02, 0.04], requires_grad=True)
    tau = torch.tensor([0.05, -0.1, 0.02], requires_grad=True)

    def draw(m, q, view):
        return rasterize_gaussians(m, q, s["scales"].detach(), s["opacities"].detach(), s["colors"].detach(), view,
                                   s["K"], 64, 48, backend="torch").rgb

    # the corrected camera: R' = exp(w) R, c' = c + tau
    moved_c2w = torch.eye(4)
    moved_c2w[:3, :3] = so3_exp(omega.detach()[None])[0] @ c2w[:3, :3]
    moved_c2w[:3, 3] = centre + tau.detach()
    direct = draw(means, quats, torch.linalg.inv(moved_c2w))
    m2, q2 = transform_gaussians(means, quats, so3_exp(-omega[None])[0], -omega, centre + tau, centre)
    through = draw(m2, q2, viewmat)
    assert float(direct.std()) > 0.05  # the view shows something
    assert torch.allclose(direct, through, atol=2e-4), float((direct - through).abs().max())
    through.sum().backward()
    assert omega.grad is not None and omega.grad.abs().sum() > 0 and tau.grad.abs().sum() > 0


def test_camera_schedule_waits_ramps_and_decays():
    from fields.tasks.camera_refine import CameraRefineSettings, camera_lr_factor

    cfg = CameraRefineSettings(camera_opt=True, camera_opt_lr=1e-3, camera_opt_lr_final=1e-5, camera_opt_delay=100)
    factor = camera_lr_factor(cfg, lambda step: step / 1000)
    assert cfg.camera_opt == "SO3xR3" and CameraRefineSettings(camera_opt=False).camera_opt == "off"
    assert factor(0) == factor(99) == 0.0
    assert 0 < factor(100) < factor(150) < factor(199)
    assert math.isclose(factor(1000), 1e-2, rel_tol=1e-6)
    assert math.isclose(factor(199), 0.01**0.199, rel_tol=1e-6)  # ramped up, on the decay


def test_pose_gradients_averaged_over_k_steps_move_the_poses_once():
    from fields.tasks.camera_refine import PoseGradientAverage

    pose = torch.nn.Parameter(torch.zeros(4, 6))
    optimizer = torch.optim.Adam([pose], lr=0.1)
    average, grads = PoseGradientAverage(), [torch.randn(4, 6) for _ in range(6)]
    for step, grad in enumerate(grads):
        pose.grad = grad.clone()
        average([pose], step, 3)
        before = pose.detach().clone()
        optimizer.step()
        if step % 3 == 2:  # the mean of the three steps' gradients, one Adam step
            assert torch.allclose(pose.grad, torch.stack(grads[step - 2 : step + 1]).mean(0))
            assert not torch.equal(pose.detach(), before)
        else:  # skipped: no step and no moment update
            assert pose.grad is None and torch.equal(pose.detach(), before)
    assert optimizer.state[pose]["step"] == 2
    pose.grad = torch.ones(4, 6)
    average([pose], 7, 1)  # k 1: untouched
    assert torch.equal(pose.grad, torch.ones(4, 6))


def test_coarse_to_fine_window_fades_levels_in_and_ends():
    from fields.tasks.coarse_to_fine import coarse_to_fine_weights

    assert coarse_to_fine_weights(16, 0.1, 0.0) is None  # off
    assert coarse_to_fine_weights(16, 0.3, 0.3) is None and coarse_to_fine_weights(16, 0.9, 0.3) is None
    start = coarse_to_fine_weights(16, 0.0, 0.3)
    assert start[:4].tolist() == [1.0] * 4 and start[4:].abs().max() == 0  # coarse levels only
    half = coarse_to_fine_weights(16, 0.15, 0.3)  # alpha = 4 + 12 / 2 = 10: levels below 10 in, 10 up out
    assert torch.allclose(half[:10], torch.ones(10)) and half[10:].abs().max() == 0
    between = coarse_to_fine_weights(16, 0.1625, 0.3)  # alpha = 10.5: level 10 half in
    assert math.isclose(float(between[10]), 0.5, abs_tol=1e-6) and float(between[11]) == 0.0
    weights = [coarse_to_fine_weights(16, p, 0.3) for p in torch.linspace(0, 0.29, 30).tolist()]
    assert all(bool((b >= a).all()) for a, b in zip(weights, weights[1:]))  # levels only ever come in


def test_the_window_key_of_saved_runs_still_loads():
    from fields.render.view_settings import RadianceRender

    assert RadianceRender(camera_opt_coarse_to_fine=0.3).coarse_to_fine == 0.3  # the key before it stood alone
    assert RadianceRender(coarse_to_fine=0.2, camera_opt="off").coarse_to_fine == 0.2


def test_a_hash_grid_under_a_window_hides_the_faded_levels_from_output_and_gradient():
    from fields.config.encoders import HashGridConfig
    from fields.encoders.hashgrid import HashGrid

    grid = HashGrid(HashGridConfig(n_levels=6, n_features_per_level=2, log2_hashmap_size=10, base_resolution=4,
                                   max_resolution=64), 3)
    with torch.no_grad():
        grid.params.uniform_(-1, 1)
    x = torch.rand(256, 3)
    full = grid(x)
    grid.level_weights = torch.tensor([1.0, 1.0, 0.5, 0.0, 0.0, 0.0])
    windowed = grid(x)
    assert torch.allclose(windowed[:, :4], full[:, :4]) and torch.allclose(windowed[:, 4:6], 0.5 * full[:, 4:6])
    assert windowed[:, 6:].abs().max() == 0
    windowed.sum().backward()
    offsets = [0, *torch.tensor(grid.level_sizes).cumsum(0).tolist()]
    assert grid.params.grad[offsets[3]:].abs().max() == 0 and grid.params.grad[: offsets[3]].abs().max() > 0
    grid.level_weights = None
    assert torch.equal(grid(x), full)


def test_perturbed_transforms_move_only_training_views_by_the_asked_amount(tmp_path):
    from fields.datasets.capture.perturb import perturb_transforms

    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    frames = []
    for i in range(16):
        c2w = np.eye(4)
        c2w[:3, 3] = [math.cos(i / 3), math.sin(i / 3), 0.1 * i]
        frames.append({"file_path": f"images/{i}.png", "transform_matrix": c2w.tolist()})
    (src / "transforms.json").write_text(json.dumps({"frames": frames}))
    out = perturb_transforms(src, tmp_path / "out", 1.0, 0.02)
    moved = json.loads((out / "transforms.json").read_text())["frames"]
    centres = np.array([f["transform_matrix"] for f in frames])[:, :3, 3]
    extent = np.linalg.norm(centres.max(0) - centres.min(0))
    for i, (a, b) in enumerate(zip(frames, moved)):
        a, b = np.array(a["transform_matrix"]), np.array(b["transform_matrix"])
        angle = math.degrees(math.acos(np.clip((np.trace(a[:3, :3].T @ b[:3, :3]) - 1) / 2, -1, 1)))
        shift = np.linalg.norm(a[:3, 3] - b[:3, 3]) / extent
        if i % 8 == 0:
            assert angle < 1e-6 and shift < 1e-9
        else:
            assert abs(angle - 1.0) < 1e-6 and abs(shift - 0.02) < 1e-9
    assert (out / "images").is_symlink()


def test_perturbed_capture_inside_its_source_links_only_the_image_folder(tmp_path):
    """The benchmark writes ``scene/perturbed`` inside ``scene``: linking every folder there made a link to
    itself (``perturbed/perturbed/...``) and pulled in ``runs``."""
    from fields.datasets.capture.perturb import perturb_transforms

    (tmp_path / "images").mkdir()
    (tmp_path / "runs").mkdir()
    frames = [{"file_path": f"./images/{i}.png", "transform_matrix": np.eye(4).tolist()} for i in range(4)]
    (tmp_path / "transforms.json").write_text(json.dumps({"frames": frames}))
    out = perturb_transforms(tmp_path, tmp_path / "perturbed", 1.0, 0.02)
    assert sorted(p.name for p in out.iterdir()) == ["images", "transforms.json"]
    assert (out / "images").resolve() == (tmp_path / "images").resolve()
