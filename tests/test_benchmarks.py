"""The encoder benchmark runs end to end on tiny sizes (its figures are not asserted, only its shape)."""

from __future__ import annotations

import json
import math
from pathlib import Path

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
