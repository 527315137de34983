"""A process killed while it held torch's build lock must not make later kernel loads wait forever."""

from __future__ import annotations

import ctypes

import pytest
from torch.utils import cpp_extension

from fields.kernels.cpp_build import load_extension

SOURCE = 'extern "C" int fields_probe_answer() { return 42; }\n'


@pytest.mark.timeout(300)
def test_a_stale_build_lock_is_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "ext"))
    source = tmp_path / "probe.cpp"
    source.write_text(SOURCE)
    build_dir = tmp_path / "ext" / "fields_probe"
    assert cpp_extension._get_build_directory("fields_probe", verbose=False) == str(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "lock").write_text("")  # what a SIGKILL in the middle of a build leaves behind
    path = load_extension("fields_probe", [str(source)])  # torch alone would wait on the lock for ever
    assert ctypes.CDLL(path).fields_probe_answer() == 42
    assert not (build_dir / "lock").exists()
