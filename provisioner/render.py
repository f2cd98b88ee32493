"""Human-readable output: plan diffs, progress, and connection summaries (rich).

Only masked values are rendered here unless the user asked for ``--show-secrets``;
the masking itself lives in ``provisioner.connections.masked``.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

_SYMBOL = {
    "create_app": ("+", "green"),
    "create_service_principal": ("+", "green"),
    "grant_delegated": ("+", "green"),
    "assign_app_role": ("+", "green"),
    "mint_secret": ("+", "green"),
    "update_app": ("~", "yellow"),
    "update_delegated_grant": ("~", "yellow"),
    "revoke_delegated": ("-", "red"),
    "revoke_app_role": ("-", "red"),
    "remove_secret": ("-", "red"),
}


def console(stderr: bool = False) -> Console:
    # highlight=False: rich's auto-highlighting would colour GUIDs and URLs unpredictably.
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_plan(plan: Any, warnings: list[Any] | None = None) -> None:
    out = console()
    for warning in warnings or []:
        console(stderr=True).print(f"[yellow]warning:[/] {warning}", markup=True)
    if plan.is_empty:
        out.print("No changes. The tenant matches the manifests.")
        return
    current_app = None
    for action in plan.actions:
        if action.app != current_app:
            current_app = action.app
            out.print(f"\n[bold]{action.app}[/]")
        symbol, colour = _SYMBOL.get(action.kind, ("*", "cyan"))
        out.print(f"  [{colour}]{symbol}[/] {_escape(action.summary)}")
        for change in getattr(action, "changes", []) or []:
            out.print(
                f"      {_escape(change.field)}: {_escape(_short(change.before))} → {_escape(_short(change.after))}"
            )
    counts: dict[str, int] = {}
    for action in plan.actions:
        symbol = _SYMBOL.get(action.kind, ("*", ""))[0]
        counts[symbol] = counts.get(symbol, 0) + 1
    out.print(
        f"\nPlan: {counts.get('+', 0)} to add, {counts.get('~', 0)} to change, {counts.get('-', 0)} to remove."
    )


def confirm_plan() -> bool:
    sys.stderr.write("Apply these changes? Only 'yes' is accepted: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip() == "yes"


def print_progress(message: str) -> None:
    console(stderr=True).print(f"[dim]…[/] {_escape(message)}")


def print_apply_result(outcome: Any, *, show_secrets: bool) -> None:
    out = console()
    out.print(f"\nApplied {outcome.actions_done} change(s).")
    table = Table(title="Connection values", show_lines=False)
    for column in ("app", "client ID", "tenant ID", "secret", "secret ID", "expires", "written to"):
        table.add_column(column, overflow="fold")
    for row in outcome.rows(show_secrets=show_secrets):
        table.add_row(*[_escape(str(v)) for v in row])
    out.print(table)


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(str(v) for v in sorted(value, key=str)) + "]"
    return "-" if value is None else str(value)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
