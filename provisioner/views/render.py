"""Human-readable output: plan diffs, progress, and connection summaries (rich).

Only masked values are rendered here unless the user asked for ``--show-secrets``;
the masking itself lives in ``provisioner.model.connections.masked``.

Every piece of text that may come from a manifest, the tenant (display names,
secret descriptions anyone with Application.ReadWrite can set) or a server goes
through :func:`safe`: control, bidi and line-separator characters are shown as
``\\xNN`` / ``\\uNNNN`` (so a name cannot repaint the screen or fake a line such as
"No changes.") and rich markup is escaped (so ``[red]`` in a name stays text).
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from provisioner.core.text import printable

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
    "retire_secret": ("-", "red"),
    "replace_orphan_secret": ("-", "red"),
    "mint_sp_secret": ("+", "green"),
    "retire_sp_secret": ("-", "red"),
    "replace_orphan_sp_secret": ("-", "red"),
    "delete_app": ("-", "red"),
    "update_service_principal": ("~", "yellow"),
    "assign_principal": ("+", "green"),
    "remove_assignment": ("-", "red"),
    "create_federated_credential": ("+", "green"),
    "update_federated_credential": ("~", "yellow"),
    "remove_federated_credential": ("-", "red"),
}


def console(stderr: bool = False) -> Console:
    # highlight=False: rich's auto-highlighting would colour GUIDs and URLs unpredictably.
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_plan(
    plan: Any, warnings: list[Any] | None = None, destinations: dict[str, list[str]] | None = None
) -> None:
    """The plan; ``destinations`` (app -> sink descriptions) is listed below it when given."""
    out = console()
    for warning in warnings or []:
        console(stderr=True).print(f"[yellow]warning:[/] {safe(warning)}")
    if plan.is_empty:
        out.print("No changes. The tenant matches the manifests.")
    else:
        current_app = None
        for action in plan.actions:
            if action.app != current_app:
                current_app = action.app
                out.print(f"\n[bold]{safe(action.app)}[/]")
            symbol, colour = _SYMBOL.get(action.kind, ("*", "cyan"))
            out.print(f"  [{colour}]{symbol}[/] {safe(action.summary)}")
            for change in getattr(action, "changes", []) or []:
                out.print(
                    f"      {safe(change.field)}: {safe(_short(change.before))} → {safe(_short(change.after))}"
                )
        counts: dict[str, int] = {}
        for action in plan.actions:
            symbol = _SYMBOL.get(action.kind, ("*", ""))[0]
            counts[symbol] = counts.get(symbol, 0) + 1
        out.print(
            f"\nPlan: {counts.get('+', 0)} to add, {counts.get('~', 0)} to change, {counts.get('-', 0)} to remove."
        )
    if destinations:
        print_destinations(destinations)


def print_destinations(destinations: dict[str, list[str]]) -> None:
    """Where each app's connection values go (``sinks.describe_destination`` lines), one line per sink."""
    out = console()
    out.print("\nConnection values go to:")
    for app, places in destinations.items():
        for place in places:
            out.print(f"  {safe(app)} → {safe(place)}")


def confirm_plan() -> bool:
    sys.stderr.write("Apply these changes? Only 'yes' is accepted: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip() == "yes"


def print_apply_result(outcome: Any, *, show_secrets: bool) -> None:
    """A narrow table (fits 80 columns) and, below it, where each app's values were written."""
    out = console()
    out.print(f"\nApplied {outcome.actions_done} change(s).")
    tenants = {row[2] for row in outcome.rows(show_secrets=show_secrets)}
    if len(tenants) == 1:
        out.print(f"Tenant ID: {safe(next(iter(tenants)))}")
    from rich import box

    # No vertical rules and no edge padding: a 36-character client ID, an 18-character app name, a
    # secret hint and a date fit 80 columns; the client ID never wraps (it gets copied), names fold.
    table = Table(
        title="Connection values", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
    )
    table.add_column("app", overflow="fold")
    table.add_column("client ID", no_wrap=True, min_width=36)
    table.add_column("secret", overflow="fold")
    table.add_column("expires", no_wrap=True)
    for app, client_id, _tenant, secret, _secret_id, expires, _written in outcome.rows(
        show_secrets=show_secrets
    ):
        table.add_row(safe(app), safe(client_id), safe(secret), safe(str(expires)[:10]))
    out.print(table)
    for conn in outcome.connections:
        out.print(f"{safe(conn.name)} → " + ", ".join(safe(relative_path(w)) for w in conn.written_to))


def relative_path(description: str) -> str:
    """Shorten absolute paths under the working directory in sink descriptions."""
    import os

    cwd = os.getcwd().rstrip("/") + "/"
    return description.replace(cwd, "")


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(str(v) for v in sorted(value, key=str)) + "]"
    return "-" if value is None else str(value)


def escape_markup(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def safe(value: Any) -> str:
    """``value`` as one line of terminal text: control/bidi/separator characters escaped, markup escaped."""
    return escape_markup(printable(str(value), one_line=True))
