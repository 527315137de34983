"""Refuse websocket handshakes from foreign web origins.

A browser lets any page open a websocket to ``127.0.0.1:8080``; only the ``Origin`` header says which page
asked. viser accepts every handshake, and a connected page can press the viewer's buttons (screenshots,
mesh exports into the run folder). The check: a handshake that carries an ``Origin`` must come from the
page this server serves (same host and port as the request's ``Host``), and that host must be the one
served (loopback names for ``127.0.0.1``), which also defeats DNS rebinding. Clients that send no
``Origin`` (scripts, not browsers) are let through.

viser builds its ``websockets`` server inside a closure, so the check is installed by handing viser's
module a ``websockets`` whose ``asyncio.server.serve`` wraps ``process_request``.
"""

from __future__ import annotations

import http
import logging
from typing import Any, Callable
from urllib.parse import urlsplit

log = logging.getLogger("fields")
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_installed = False


def allowed_hosts(served_host: str) -> set[str] | None:
    """Host names a page may be served under; None: any (a server open to the network)."""
    if served_host in ("0.0.0.0", "::", ""):
        return None
    if served_host in LOOPBACK:
        return set(LOOPBACK)
    return {served_host.lower(), f"[{served_host.lower()}]"}


def origin_allowed(origin: str | None, host_header: str | None, served_host: str) -> bool:
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or not host_header:
        return False
    if parts.netloc.lower() != host_header.lower():
        return False  # a page of another site
    hosts = allowed_hosts(served_host)
    name = parts.hostname or ""
    return hosts is None or name.lower() in hosts or f"[{name.lower()}]" in hosts


def _guarded(serve: Callable[..., Any]) -> Callable[..., Any]:
    def guarded_serve(handler: Any, host: Any = None, port: Any = None, *args: Any, **kwargs: Any) -> Any:
        inner = kwargs.get("process_request")
        served = str(host or "")

        def process_request(connection: Any, request: Any) -> Any:
            if request.headers.get("Upgrade", "").lower() == "websocket":
                origin = request.headers.get("Origin")
                if not origin_allowed(origin, request.headers.get("Host"), served):
                    log.warning("viewer: refused a websocket from origin %s", origin)
                    return connection.respond(http.HTTPStatus.FORBIDDEN, "foreign origin\n")
            return inner(connection, request) if inner is not None else None

        kwargs["process_request"] = process_request
        return serve(handler, host, port, *args, **kwargs)

    return guarded_serve


class _Module:
    """Stands in for a module, with some attributes replaced."""

    def __init__(self, target: Any, **replaced: Any):
        self._target, self._replaced = target, replaced

    def __getattr__(self, name: str) -> Any:
        return self._replaced[name] if name in self._replaced else getattr(self._target, name)


def install() -> bool:
    """Put the check into viser (once per process); False (and a warning) if viser's layout changed."""
    global _installed
    if _installed:
        return True
    try:
        import websockets
        import websockets.asyncio.server as server
        from viser.infra import _infra

        assert _infra.websockets is websockets
    except (ImportError, AttributeError, AssertionError):
        log.warning("viewer: cannot check websocket origins with this viser version")
        return False
    _infra.websockets = _Module(websockets, asyncio=_Module(websockets.asyncio, server=_Module(
        server, serve=_guarded(server.serve))))
    _installed = True
    return True
