"""A process killed while it held torch's build lock must not make later kernel loads wait forever."""

from __future__ import annotations

import ctypes

import pytest
from torch.utils import cpp_extension

from fields.kernels.cpp_build import cpu_tag, load_extension

SOURCE = 'extern "C" int fields_probe_answer() { return 42; }\n'


@pytest.mark.timeout(300)
def test_a_stale_build_lock_is_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "ext"))
    source = tmp_path / "probe.cpp"
    source.write_text(SOURCE)
    name = f"fields_probe_{cpu_tag()}"  # builds are per processor: -march=native
    build_dir = tmp_path / "ext" / name
    assert cpp_extension._get_build_directory(name, verbose=False) == str(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "lock").write_text("")  # what a SIGKILL in the middle of a build leaves behind
    path = load_extension("fields_probe", [str(source)])  # torch alone would wait on the lock for ever
    assert ctypes.CDLL(path).fields_probe_answer() == 42
    assert not (build_dir / "lock").exists()


def test_the_build_tag_follows_the_processor_flags(monkeypatch):
    import fields.kernels.cpp_build as cpp_build

    here = cpu_tag()
    assert len(here) == 8 and here == cpu_tag()
    monkeypatch.setattr(cpp_build.platform, "machine", lambda: "some-other-arch")
    assert cpu_tag() != here  # a library built for one processor is never loaded on another
