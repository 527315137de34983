"""The Triton tests of this folder run under Triton's interpreter on a machine without CUDA: the variable is set
for each of their modules only (see ``triton_setup.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _triton_interpreter(request: pytest.FixtureRequest):
    from triton_setup import INTERPRET

    if not (INTERPRET and request.module.__name__.split(".")[-1].startswith("test_triton")):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRITON_INTERPRET", "1")
        yield
