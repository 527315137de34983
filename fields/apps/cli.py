"""The ``fields`` command line: fit, eval, render, export, process, view, info (``fields.apps.commands``).

User errors (bad scene files, missing data) print one line and exit with code 2; ``--debug`` shows the
traceback instead. Every command validates its options and scene before torch loads.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.logging import RichHandler
from rich.markup import escape

from fields.apps.commands import export, fit, info, process, render, view
from fields.apps.commands.common import STATE, console

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Neural fields: fit, evaluate and render fields from scene files.")
app.command("fit")(fit.fit)
app.command("eval")(fit.evaluate)
app.command("render")(render.render)
app.command("view")(view.view_run)
app.add_typer(export.export_app, name="export")
app.add_typer(process.process_app, name="process")
app.command("info")(info.info)


def _setup_logging(debug: bool) -> None:
    handler = RichHandler(console=console, show_path=False, show_time=False, markup=False)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO, handlers=[handler], format="%(message)s", force=True
    )


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors.")) -> None:
    STATE["debug"] = debug
    _setup_logging(debug)


def _click_errors(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from click and from the copy of click that newer typer versions vendor as ``typer._click``."""
    import importlib

    kinds = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            kinds.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(kinds)


def entrypoint() -> None:
    try:
        code = app(standalone_mode=False)
    except _click_errors("NoArgsIsHelpError") as err:
        err.show()  # type: ignore[attr-defined]
        sys.exit(err.exit_code)  # type: ignore[attr-defined]
    except _click_errors("UsageError") as err:  # one line, like every other user error
        ctx = getattr(err, "ctx", None)
        command = ctx.command_path if ctx is not None else "fields"
        console.print(f"[bold red]error:[/] {escape(err.format_message())} (see {command} --help)",  # type: ignore[attr-defined]
                      highlight=False, soft_wrap=True)
        sys.exit(2)
    except _click_errors("Abort"):
        console.print("interrupted")
        sys.exit(130)
    except SystemExit as exc:
        sys.exit(exc.code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    entrypoint()
