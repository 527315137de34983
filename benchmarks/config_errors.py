"""How fast a mistake answers (issue 17: a config error in under 2 s, cold and warm): wall time of whole
``fields`` commands that fail validation, each a fresh interpreter, with the heavy packages it imported.

    python -m benchmarks.config_errors                       # ~1 min: 9 cases, 1 first + 5 warm runs each
    python -m benchmarks.config_errors --tree /path/to/other/checkout   # the same cases on another tree

"first" is each case's first run in this invocation (cold when the page cache was dropped before:
``sync; echo 3 > /proc/sys/vm/drop_caches``), "warm" the median of ``--repeats`` more. Two reference rows
time the bare interpreter and ``import torch``. Run it on an otherwise quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "pytorch_lightning", "lightning", "torchmetrics", "viser", "open3d", "trimesh")
# runs the CLI, then reports its exit code and which heavy packages were imported on the way
PROBE = f"""
import json, sys
from fields.apps.cli import entrypoint
sys.argv = ["fields", *sys.argv[1:]]
code = 0
try:
    entrypoint()
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
"""


def cases(root: Path) -> list[tuple[str, list[str]]]:
    (root / "bad.yaml").write_text("task: image\ndata: {image: skimage:camera}\nmodel: {encoder: {n_levls: 4}}\n")
    (root / "ok.yaml").write_text("task: radiance\ndata: {path: synthetic:sphere}\n")
    run = root / "run"
    run.mkdir(exist_ok=True)
    (run / "config.resolved.yaml").write_text("task: sdf\ndata: {mesh: shape:torus}\n")
    return [
        ("fit: unknown key in the file", ["fit", str(root / "bad.yaml")]),
        ("fit: bad override", ["fit", str(root / "ok.yaml"), "model.encoder.n_levels=many"]),
        ("fit: data file not found", ["fit", str(root / "ok.yaml"), "data.path=nowhere/transforms.json"]),
        ("fit: bad render setting", ["fit", str(root / "ok.yaml"), "render.sampler=sphere"]),
        ("fit --resume: bad override", ["fit", "--resume", str(run), "model.encoder.type=hashgird"]),
        ("eval: no such run", ["eval", str(root / "nowhere")]),
        ("render: bad --up", ["render", str(run), "--up", "w"]),
        ("export mesh: bad --format", ["export", "mesh", str(run), "--format", "xyz"]),
        ("view: bad --host", ["view", str(run), "--host", "999.1.1.1"]),
    ]


def timed(command: list[str], cwd: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    seconds = time.perf_counter() - started
    lines = result.stdout.strip().splitlines()
    return seconds, (json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {})


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose fields is timed")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        references = [("reference: python -c pass", [sys.executable, "-c", "pass"]),
                      ("reference: import torch", [sys.executable, "-c", "import torch"])]
        probes = [(name, [sys.executable, "-c", PROBE, *cli]) for name, cli in cases(Path(tmp))]
        for name, command in references + probes:
            first, report = timed(command, args.tree)
            warm = [timed(command, args.tree)[0] for _ in range(args.repeats)]
            rows.append({"case": name, "first_s": first, "warm_s": statistics.median(warm),
                         "exit": report.get("code", ""), "heavy": ",".join(report.get("heavy", [])) or "-"})
    print(f"{'case':34} {'first s':>8} {'warm s':>8} {'exit':>5}  heavy imports")
    for row in rows:
        print(f"{row['case']:34} {row['first_s']:8.2f} {row['warm_s']:8.2f} {row['exit']!s:>5}  {row['heavy']}")
    load = os.getloadavg()[0]
    print(f"tree {args.tree}; load average {load:.2f} at the end")
    return rows


if __name__ == "__main__":
    main()
