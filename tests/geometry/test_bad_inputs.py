"""Bad meshes and point clouds: one-line errors from the loaders and exit code 2 from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("trimesh")
pytest.importorskip("open3d")

from fields.datasets.mesh import load_mesh  # noqa: E402
from fields.datasets.pointcloud import load_point_cloud  # noqa: E402
from fields.errors import UserError  # noqa: E402
from tests.conftest import run_cli  # noqa: E402

ASSIMP = Path("/usr/share/assimp/models")  # Debian assimp-testmodels: deliberately broken files

BAD_FILES = {
    "empty.obj": ("", "empty"),
    "vertices_only.obj": ("v 0 0 0\nv 1 0 0\nv 0 1 0\n", "no faces"),
    "garbage.ply": (
        "ply\nformat binary_little_endian 1.0\nelement vertex 99999999\nend_header\nxx",
        "cannot read mesh",
    ),
    "nan.obj": ("v 0 0 0\nv nan 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 3 4\n", "NaN"),
    "flat.obj": ("v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n", "zero extent"),
    "bad_index.obj": ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "cannot read mesh"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_mesh_files(tmp_path: Path, name: str):
    content, needle = BAD_FILES[name]
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(UserError, match=needle) as err:
        load_mesh(path)
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not ASSIMP.is_dir(), reason="assimp-testmodels not installed")
@pytest.mark.parametrize(
    "name",
    ["invalid/empty.off", "invalid/OutOfMemory.off", "invalid/malformed.obj", "OFF/invalid.off", "invalid/empty.ply"],
)
def test_assimp_broken_files(name: str):
    with pytest.raises(UserError):
        load_mesh(ASSIMP / name)


def test_point_cloud_problems(tmp_path: Path):
    three = tmp_path / "three.xyz"
    three.write_text("0 0 0\n1 0 0\n0 1 0\n")
    with pytest.raises(UserError, match="3 points; at least"):
        load_point_cloud(three)
    nan = tmp_path / "nan.xyz"
    nan.write_text("\n".join(["0 0 0", "nan 1 1"] + [f"{i} {i % 7} {i % 3}" for i in range(100)]))
    with pytest.raises(UserError, match="NaN"):
        load_point_cloud(nan)
    columns = tmp_path / "four.xyz"
    columns.write_text("\n".join(f"{i} 0 0 1" for i in range(100)))
    with pytest.raises(UserError, match="3 columns"):
        load_point_cloud(columns)


def assert_user_error(result, needle: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("case", ["no-faces", "broken", "three-points"])
def test_cli_exit_code_2_one_line(tmp_path: Path, case: str):
    # the other bad files take the same path (the loaders' UserError), tested above without a subprocess
    files = {
        "no-faces": ("verts.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\n", "no faces"),
        "broken": (
            "broken.ply",
            "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nend_header\n1 2\nzz\n",
            "cannot read mesh",
        ),
        "three-points": ("three.xyz", "0 0 0\n1 0 0\n0 1 0\n", "3 points"),
    }
    name, content, needle = files[case]
    (tmp_path / name).write_text(content)
    key = "points" if name.endswith(".xyz") else "mesh"
    scene = tmp_path / "scene.yaml"
    scene.write_text(f"task: sdf\ndata: {{{key}: {tmp_path / name}}}\noutput: {{dir: {tmp_path / 'runs'}}}\n")
    assert_user_error(run_cli("fit", str(scene)), needle)
    assert not (tmp_path / "runs").exists()


def test_scene_needs_one_source(tmp_path: Path):
    scene = tmp_path / "scene.yaml"
    scene.write_text("task: sdf\ndata: {}\n")
    assert_user_error(run_cli("fit", str(scene)), "give data.mesh")
