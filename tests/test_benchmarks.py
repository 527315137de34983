"""The encoder benchmark runs end to end on tiny sizes (its figures are not asserted, only its shape); the SfM
variants benchmark changes one option and undoes it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.encoder_fits import fit_image
from benchmarks.encoders import encoder_config, main


def test_encoder_throughput_quick(tmp_path: Path, capsys):
    out = tmp_path / "encoders.json"
    report = main(["--quick", "--no-quality", "--points", "256", "--out", str(out)])
    rows = report["throughput"]
    assert json.loads(out.read_text())["throughput"] == json.loads(json.dumps(rows, default=str))
    names = {(row["encoder"], row["dim"]) for row in rows if "forward_s" in row}
    for d in (2, 3):
        assert {("naive: vectorised", d), ("naive: per level", d), ("frequency", d)} <= names
        assert ("hashgrid[cpp]", d) in names or ("hashgrid[torch]", d) in names
    for row in rows:
        if "forward_s" in row:
            assert row["forward_pts_per_s"] > 0 and row["forward_backward_pts_per_s"] > 0
            assert math.isfinite(row["speedup_vs_naive"])
        else:
            assert row["note"].startswith("skipped"), row
    printed = capsys.readouterr().out
    assert "naive: vectorised" in printed and "x naive" in printed


def test_image_fit_reports_both_psnrs():
    config, note = encoder_config("hashgrid", 2)
    row = fit_image(config, "camera", size=32, steps=3, seconds=0.0, batch=256, lr=1e-2)
    assert note == "" and row["size"] == "32x32" and row["params"] > 0
    assert 0 < row["psnr_at_steps"] < 60 and row["steps_in_seconds"] == 1 and 0 < row["psnr_at_seconds"] < 60


def test_sfm_variants_patch_one_option_and_undo():
    pycolmap = pytest.importorskip("pycolmap")
    import fields.datasets.capture.matching as matching
    import fields.datasets.capture.sfm as sfm
    from benchmarks.sfm_variants import patched
    from fields.datasets.capture.sfm_options import SfmTolerance

    tolerance = SfmTolerance.for_size(320, 240)
    undo = patched("none")
    try:
        assert sfm.mapper_options(pycolmap, tolerance, 1, 0.2).mapper.filter_min_tri_angle == pytest.approx(0.2)
    finally:
        undo()
    undo = patched("tri-0.5")
    try:
        assert sfm.mapper_options(pycolmap, tolerance, 1, 0.2).mapper.filter_min_tri_angle == pytest.approx(0.5)
    finally:
        undo()
    assert sfm.mapper_options(pycolmap, tolerance, 1, 0.2).triangulation.min_angle == pytest.approx(0.2)
    undo = patched("ratio-0.8")
    try:
        options, verification = matching.matching_options(pycolmap, tolerance, 1)
        assert options.sift.max_ratio == pytest.approx(0.8) and verification.ransac.max_error == pytest.approx(1.0)
    finally:
        undo()
    assert matching.matching_options(pycolmap, tolerance, 1)[0].sift.max_ratio == pytest.approx(0.7)
    undo = patched("overlap-20")
    try:
        assert (matching.sequential_pairs([str(i) for i in range(30)])[19]) == ("0", "20")
    finally:
        undo()
    assert ("0", "20") not in matching.sequential_pairs([str(i) for i in range(30)])
