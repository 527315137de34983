"""The viewer's websocket refuses handshakes from pages of other origins (any web page could otherwise drive
the viewer served on 127.0.0.1)."""

from __future__ import annotations

import pytest

from fields.apps.viewer.origin import origin_allowed
from tests.viewer.browser_helpers import free_port


def test_origin_rules():
    assert origin_allowed(None, "127.0.0.1:8080", "127.0.0.1")  # scripts send no Origin
    assert origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", "127.0.0.1")
    assert origin_allowed("http://localhost:8080", "localhost:8080", "127.0.0.1")
    assert not origin_allowed("http://evil.example", "127.0.0.1:8080", "127.0.0.1")
    assert not origin_allowed("http://127.0.0.1:9999", "127.0.0.1:8080", "127.0.0.1")  # another local page
    assert not origin_allowed("http://evil.example:8080", "evil.example:8080", "127.0.0.1")  # DNS rebinding
    assert not origin_allowed("null", "127.0.0.1:8080", "127.0.0.1")
    assert origin_allowed("http://myhost:8080", "myhost:8080", "0.0.0.0")


def test_foreign_origin_handshake_is_refused():
    pytest.importorskip("viser")
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    from fields.apps.viewer.server import Viewer

    port = free_port()
    viewer = Viewer("127.0.0.1", port, print_url=None)
    url = f"ws://127.0.0.1:{viewer.server.get_port()}"
    try:
        with pytest.raises(InvalidStatus) as refused:
            connect(url, origin="http://evil.example", open_timeout=30).close()
        assert refused.value.response.status_code == 403
        for origin in (f"http://127.0.0.1:{viewer.server.get_port()}", None):
            connect(url, origin=origin, open_timeout=30).close()  # the handshake completes (101)
    finally:
        viewer.close()


def test_damaged_metrics_show_no_metrics(tmp_path):
    from fields.apps.viewer.run import read_metrics

    (tmp_path / "metrics.json").write_text("{not json")
    assert read_metrics(tmp_path) == {}
    (tmp_path / "metrics.json").write_text("[1, 2]")
    assert read_metrics(tmp_path) == {}
    (tmp_path / "metrics.json").write_text('{"psnr": 30.0}')
    assert read_metrics(tmp_path) == {"psnr": 30.0}
