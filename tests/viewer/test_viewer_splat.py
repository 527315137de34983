"""The splat view on a tiny fitted scene: every mode renders something distinct, the Gaussian centres are an
overlay of points, and the view exports a TSDF mesh."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fields.apps.viewer import finish, view_for
from fields.engine.scene import scene_from_dict
from fields.engine.run import fit, load_run
from tests.viewer.test_viewer_geometry_radiance import check_modes


def test_splat_view(tmp_path: Path):
    config = {
        "task": "splat",
        "data": {"path": "synthetic:objects", "synthetic": {"n_train": 8, "n_test": 2, "size": 48}},
        "model": {"type": "gaussians", "n_random": 2000, "sh_degree": 1},
        "render": {
            "save_test_views": 0,
            "strategy": {"type": "default", "refine_start": 20, "refine_stop": 100, "refine_every": 20},
        },
        "train": {"steps": 150, "progress": False, "threads": 2},
        "output": {"dir": str(tmp_path)},
    }
    run_dir, _ = fit(scene_from_dict(config), tmp_path / "run")
    task = load_run(run_dir)[1]
    view = view_for(task)
    assert view.modes == ("rgb", "depth", "opacity", "centres")
    check_modes(view)
    centres = view.overlays()[0]
    assert centres.points.shape == (len(task.field), 3) and centres.colors.shape == (len(task.field), 3)
    path, overlay = view.export_mesh(tmp_path / "mesh.ply")
    assert path.is_file() and overlay is not None and len(overlay.faces) > 10
    assert finish(view.render("rgb", view.home(), 40, 30)).shape == (30, 40, 3)
    assert np.isfinite(overlay.vertices).all()
