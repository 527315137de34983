"""``fields info``: versions, devices and which optional backends are usable (and why not)."""

from __future__ import annotations

import platform

from rich.table import Table

from fields.apps.commands.common import guard, out


def info() -> None:
    """Versions, devices and which optional backends are usable (and why not)."""

    def run() -> None:
        import torch

        import fields
        from fields.apps.backends import backend_report
        from fields.threads import configure_threads

        table = Table(title="fields", show_header=False)
        table.add_row("fields", fields.__version__)
        table.add_row("python", platform.python_version())
        try:
            import pytorch_lightning as pl

            table.add_row("pytorch-lightning", pl.__version__)
        except Exception as err:  # pragma: no cover
            table.add_row("pytorch-lightning", f"missing ({err})")
        devices = ["cpu"] + [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        table.add_row("devices", ", ".join(devices))
        table.add_row("threads", str(torch.get_num_threads()))
        table.add_row("OpenMP wait", f"{configure_threads().wait} ({configure_threads().reason})")
        out.print(table)
        backends = Table(title="backends")
        for column in ("backend", "usable", "detail"):
            backends.add_column(column)
        for row in backend_report():
            backends.add_row(row.name, "yes" if row.usable else "no", row.detail)
        out.print(backends)

    guard(run)
