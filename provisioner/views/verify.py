"""The human-readable ``verify`` report: one rich table row per check, one summary line.

Rows show identifiers, permission names and one-line advice only: reports are made
to be pasted into tickets, so no token or secret value is ever rendered.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from provisioner.oauth.verify import VerifyReport
from provisioner.views.render import safe

_STYLE = {"ok": "green", "gap": "red", "error": "red", "skipped": "yellow"}
_LABEL = {"ok": "ok", "gap": "GAP", "error": "FAILED", "skipped": "skipped"}
_CHECK = {
    "connection": "connection",
    "secret": "secret",
    "certificate": "certificate",
    "application": "app roles",
    "delegated": "delegated",
}


def print_report(report: VerifyReport, console: Console | None = None) -> None:
    out = console or Console(highlight=False, soft_wrap=True, emoji=False)
    table = Table(show_lines=False, pad_edge=False)
    for column in ("App", "Check", "Resource", "Result", "Detail"):
        table.add_column(column, overflow="fold")
    for app in report.apps:
        for check in app.checks:
            style = _STYLE[check.status]
            table.add_row(
                safe(app.app),
                _CHECK[check.kind],
                safe(check.resource),
                f"[{style}]{_LABEL[check.status]}[/]",
                safe(check.message),
            )
    out.print(table)
    failing = [app.app for app in report.apps if not app.ok]
    if failing:
        out.print(
            f"[red]{len(failing)} of {len(report.apps)} app(s) not working:[/] {safe(', '.join(failing))}"
        )
    else:
        partial = [app.app for app in report.apps if any(c.status == "skipped" for c in app.checks)]
        if partial:
            # a skipped check proved nothing: "All verified" would claim what was not tried
            done = len(report.apps) - len(partial)
            out.print(
                f"[yellow]{done} of {len(report.apps)} app(s) fully verified; {len(partial)} with skipped "
                f"checks (see above):[/] {safe(', '.join(partial))}"
            )
        else:
            out.print(f"[green]All {len(report.apps)} app(s) verified.[/]")
