"""benchmarks/splats.py runs end to end at smoke sizes (its timings are not asserted; the cpp kernel's image is)."""

from __future__ import annotations

import json

from benchmarks.splats import main


def test_splat_benchmark_smoke(tmp_path, capsys):
    report = main(["--smoke", "--backends", "torch,cpp,gsplat-torch", "--out", str(tmp_path)])
    rows = report["rows"]
    assert json.loads(next(tmp_path.glob("splats-*.json")).read_text())["rows"] == json.loads(json.dumps(rows))
    assert {(r["view"], r["gaussians"]) for r in rows} == {("24x24", 60), ("24x24", 200), ("40x40", 60), ("40x40", 200)}
    for r in rows:
        if r["backend"] == "torch":
            assert r["fwd_ms"] > 0 and r["fwd_bwd_ms"] > 0 and r["backend_used"] == "torch"
        elif r["backend"] == "cpp" and r.get("backend_used") == "cpp":
            assert r["rgb_max_err"] < 1e-4 and r["fwd_speedup"] > 0
        elif r["backend"] == "gsplat-torch":
            assert "project_ms" in r or r["note"].startswith("ModuleNotFoundError")
    assert "speed-up over torch" in capsys.readouterr().out
