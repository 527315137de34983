"""Ctrl-C reaches the viewer whatever SIGINT disposition the process inherited."""

from __future__ import annotations

import signal
import threading


def listen_for_ctrl_c() -> None:
    """Unblock SIGINT/SIGTERM and install Python's Ctrl-C handler where SIGINT was inherited ignored or default.

    Both an ignored and a blocked SIGINT survive exec: a background job of a shell without job control, some
    test runners and service managers start us that way, and Python keeps an inherited SIG_IGN. Called before
    the viewer's URL is printed, so a Ctrl-C sent on seeing the URL is never lost."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL, None):
        signal.signal(signal.SIGINT, signal.default_int_handler)
