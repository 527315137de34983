"""What every command shares: the consoles, one-line errors with exit codes, signals, summaries.

User errors (bad scene files, missing data) print one line and exit with code 2; ``--debug`` shows the
traceback instead. SIGTERM and Ctrl-C end a command with 143 and 130.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Callable, List, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fields.errors import Interrupted, UserError

console = Console(stderr=True)
out = Console()
STATE = {"debug": False}
MAX_SIDE = 16384  # pixels on a side of a render: 2^28 pixels already take gigabytes
MESH_FORMATS = ("ply", "obj", "glb", "stl", "off")
T = TypeVar("T")


def written_lines(paths: List[Path]) -> List[str]:
    """One line per folder: a turntable's 24 frames are one line, not 24."""
    folders: dict[Path, list[Path]] = {}
    for path in map(Path, paths):
        folders.setdefault(path.parent, []).append(path)
    lines = []
    for folder, files in folders.items():
        if len(files) <= 3:
            lines.extend(f"wrote {f}" for f in files)
        else:
            frames = sorted(f.name for f in files if f.suffix == ".png")
            others = sorted(f.name for f in files if f.suffix != ".png")
            what = f"{len(frames)} frames ({frames[0]} ... {frames[-1]})" if frames else ""
            what = ", ".join(x for x in (what, *others) if x)
            lines.append(f"wrote {what} in {folder}")
    return lines


def check_address(host: str, port: int) -> None:
    """A viewer address that can be served, checked before anything loads (a bad one hung viser)."""
    import ipaddress
    import socket

    if not host or any(c.isspace() for c in host):
        raise UserError(f"--host: '{host}' is not an address")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if all(part.isdigit() for part in host.split(".")):
            raise UserError(f"--host: '{host}' is not a valid IP address") from None
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as err:
            raise UserError(f"--host: cannot resolve '{host}' ({err})") from None


def metrics_table(metrics: dict, title: str) -> Table:
    table = Table(title=title, show_header=False)
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    return table


def fail(err: BaseException, code: int) -> None:
    if STATE["debug"]:
        raise err
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    if code != 2:
        console.print("run again with --debug for the traceback", style="dim")
    raise typer.Exit(code)


def _terminate(signum: int, frame: object) -> None:
    raise Interrupted(f"terminated ({signal.Signals(signum).name})", 128 + signum)


def torch_out_of_memory() -> type[BaseException]:
    torch = sys.modules.get("torch")
    return getattr(torch, "OutOfMemoryError", MemoryError) if torch is not None else MemoryError


def guard(fn: Callable[[], T]) -> T:  # type: ignore[return]
    """Run a command's body: user errors -> one line and exit 2, signals -> 130/143, bugs -> exit 1."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return fn()
    except UserError as err:
        fail(err, 2)
    except Interrupted as err:
        console.print(str(err), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(err.exit_code)
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(130)
    except typer.Exit:
        raise
    except (MemoryError, torch_out_of_memory()) as err:
        fail(UserError(f"out of memory ({type(err).__name__}): lower the resolution, batch or model size"), 2)
    except OSError as err:
        if err.filename is None:
            fail(RuntimeError(f"{type(err).__name__}: {err}"), 1)
        # a file or folder the system refuses (permissions, a full disk, a path under a file): the user's to fix
        fail(UserError(f"{err.filename}: {err.strerror or err}"), 2)
    except Exception as err:  # a bug: say so, keep the traceback behind --debug
        fail(RuntimeError(f"{type(err).__name__}: {err}"), 1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
