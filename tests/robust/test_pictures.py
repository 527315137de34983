"""Pictures in the run folder (issue 17): the training curves, labelled prediction | truth | error comparisons,
the classifier's confusion matrix, and a turntable for occupancy runs; frames named alike by every command."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from fields.engine.curves import curve_panels, read_log
from fields.io.chart import nice_ticks
from fields.io.panels import colourize, comparison, confusion_image, labelled
from tests.conftest import run_cli


def test_nice_ticks_are_round_and_span_the_range():
    ticks = nice_ticks(21.3, 29.8)
    assert ticks[0] <= 21.3 and ticks[-1] >= 29.8 and len(ticks) <= 8
    assert all(abs(t / 2 - round(t / 2)) < 1e-9 for t in ticks)  # steps of 2


def test_comparison_is_three_labelled_panels_and_shows_where_the_error_is():
    truth = np.full((40, 60, 3), 0.5, np.float32)
    pred = truth.copy()
    pred[:, 30:] += 0.3  # the right half is wrong
    picture = comparison(pred, truth, "prediction", "truth")
    strip = picture.shape[0] - 40
    assert 10 < strip < 40 and picture.shape[1] == 3 * 60 + 2 * 4
    assert (picture[:strip] < 128).any()  # the labels are drawn
    error = picture[strip:, 2 * 64 :].astype(float)
    assert error[:, 35:].mean() > error[:, :25].mean() + 100  # bright where wrong, dark where right


def test_labels_never_spill_over_their_panel():
    picture = labelled([(np.zeros((16, 16)), "a label far longer than the panel is wide")])
    assert picture.shape[1] == 16


def test_confusion_image_shades_the_diagonal():
    matrix = np.array([[9, 1, 0], [0, 10, 0], [3, 0, 7]])
    picture = confusion_image(matrix, ["cube", "sphere", "torus"])
    assert picture.ndim == 3 and picture.shape[0] > 100 and picture.shape[1] > 100
    assert colourize(np.array([[0.0, 1.0]]), 1.0)[0, 0].sum() < colourize(np.array([[0.0, 1.0]]), 1.0)[0, 1].sum()


def test_curves_read_the_log_and_mark_the_evaluation(tmp_path: Path):
    log = tmp_path / "metrics.csv"
    log.write_text("epoch,step,train/loss,train/psnr\n0,49,0.01,20.0\n0,99,0.004,24.0\n0,99,,\n0,149,0.002,27.0\n")
    columns = read_log(log)
    assert list(columns["train/loss"][0]) == [49, 99, 149]
    panels = curve_panels(columns, {"psnr": 26.5, "steps": 150})
    assert [p.title for p in panels] == ["training loss", "PSNR (dB)"] and {p.xmax for p in panels} == {150.0}
    assert panels[0].log_y and panels[1].markers == [("psnr (evaluation)", 150.0, 26.5)]
    iou = curve_panels({"train/loss": columns["train/loss"]}, {"iou": 0.93, "steps": 150})
    assert iou[1].ylabel == "IoU" and iou[1].markers[0][2] == 0.93


def test_an_image_fit_writes_curves_and_a_comparison(small_scene: Path, tmp_path: Path):
    result = run_cli("fit", str(small_scene), "train.steps=60", "output.name=pictures")
    assert result.returncode == 0, result.stderr
    run = tmp_path / "runs" / "pictures"
    curves = iio.imread(run / "training_curves.png")
    assert curves.shape[1] == 2 * 640 and curves.std() > 10  # two panels, with something drawn
    picture, truth = iio.imread(run / "comparison.png"), iio.imread(run / "reconstruction.png")
    assert picture.shape[1] == 3 * truth.shape[1] + 8 and picture.shape[0] > truth.shape[0]


def test_occupancy_runs_render_a_turntable(tmp_path: Path):
    pytest.importorskip("open3d")
    scene = tmp_path / "occ.yaml"
    scene.write_text(
        "task: occupancy\ndata: {mesh: 'shape:torus', samples: {pool_size: 32768}, "
        "eval: {points: 4096, mesh_resolution: 32, surface_points: 2000, export_resolution: 32}}\n"
        "model: {encoder: {type: hashgrid, n_levels: 4, log2_hashmap_size: 12, base_resolution: 8}, "
        "decoder: {n_neurons: 16, n_hidden_layers: 1}}\n"
        "train: {steps: 80, batch_size: 4096, progress: false, threads: 1}\n"
        f"output: {{dir: {tmp_path}, name: occ}}\n")
    assert run_cli("fit", str(scene)).returncode == 0
    result = run_cli("render", str(tmp_path / "occ"), "--width", "48", "--frames", "2")
    assert result.returncode == 0, result.stderr
    frames = sorted((tmp_path / "occ" / "renders" / "turntable").glob("frame_*.png"))
    assert [f.name for f in frames] == ["frame_0000.png", "frame_0001.png"]
    first = iio.imread(frames[0]).astype(float)
    background = first[0, 0]
    assert (np.abs(first - background).sum(-1) > 30).mean() > 0.05  # the torus is in the picture
