"""Human output of ``rotate`` and ``status`` (rich tables, fit for 80 columns).

Secret values appear only with ``--show-secrets`` (rotate), below the table;
everything else is identification: keyId, the 3-character hint Graph shows
anyway, and expiry dates.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from provisioner.engine.rotation.policy import KIND_NOUNS, days_left, kind_label, stamp
from provisioner.views.render import console, print_lines, print_table, relative_path, safe

_STATUS_STYLE = {
    "rotated": "green",
    "retired": "green",
    "unchanged": "dim",
    "blocked": "red",
    "failed": "red",
}


def _short(key_id: str | None) -> str:
    """First 8 characters of a keyId: enough to match the table to the sink list and the portal."""
    return safe(key_id[:8]) if key_id else "-"


def _day(value: str | None) -> str:
    return safe(value[:10]) if value else "-"


def print_warnings(warnings: list[Any]) -> None:
    print_lines(console(stderr=True), [f"[yellow]warning:[/] {safe(str(warning))}" for warning in warnings])


def print_rotate(outcome: Any, *, show_secrets: bool) -> None:
    out = console()
    if not outcome.secrets:
        out.print("No declared secrets to rotate.")
        return

    def make_table() -> Table:
        table = Table(title=f"Secrets at {stamp(outcome.now)}", title_justify="left")
        for column in ("app", "secret", "status", "keyId", "hint", "expires"):
            table.add_column(column, overflow="fold")
        return table

    rows = []
    for item in outcome.secrets:
        current = item.current or {}
        style = _STATUS_STYLE.get(item.status, "")
        rows.append(
            (
                safe(item.app),
                safe(kind_label(item.kind, item.name)),
                f"[{style}]{safe(item.status)}[/]" if style else safe(item.status),
                _short(current.get("key_id")),
                safe(str(current.get("hint") or "-")),
                _day(current.get("expires")),
            )
        )
    print_table(out, make_table, rows)
    lines: list[str] = []
    for item in outcome.secrets:
        label = f"{safe(item.app)} / {safe(item.name)}"
        if item.status == "rotated" and item.previous:
            lines.append(
                f"{label}: previous {KIND_NOUNS.get(item.kind, item.kind)} {_short(item.previous['key_id'])} "
                "stays valid until about "
                f"{safe(item.previous['retire_after'])} (overlap), then a later run retires it"
            )
        for gone in item.removed:
            lines.append(f"{label}: removed {_short(gone['key_id'])} ({safe(gone['reason'])})")
        if item.error:
            lines.append(f"{label}: [red]{safe(item.error)}[/]")
        if show_secrets and item.value:
            lines.append(f"{label}: value {safe(item.value)}")
    if outcome.status == "unchanged":
        lines.append("Nothing to rotate: every secret is outside its rotate_before window.")
    print_lines(out, lines)


def print_status(outcome: Any) -> None:
    out = console()
    out.print(f"Status at {stamp(outcome.now)} (Graph's clock)")
    for app in outcome.apps:
        verdict = "[green]healthy[/]" if not app.problems else "[red]needs attention[/]"
        out.print(
            f"\n[bold]{safe(app.app)}[/] {verdict}"
            + (f"  client ID {safe(app.client_id)}" if app.client_id else "")
        )
        numbers = {s["sink"]: str(i) for i, s in enumerate(app.sinks, 1)}
        if app.secrets:
            table = Table(show_edge=False, pad_edge=False)
            for column in ("secret", "keyId", "hint", "expires", "days", "state", "sinks"):
                table.add_column(column, overflow="fold")
            for row in app.secrets:
                days = days_left(row.end, outcome.now)
                colour = "red" if days is not None and days < 0 else "yellow" if "due" in row.state else ""
                state = f"[{colour}]{safe(row.state)}[/]" if colour else safe(row.state)
                table.add_row(
                    safe(kind_label(row.kind, row.name)),
                    _short(row.key_id),
                    safe(row.hint or "?"),
                    _day(stamp(row.end) if row.end else None),
                    "-" if days is None else str(days),
                    state,
                    ",".join(numbers[s] for s in row.held_by) or "-",
                )
            out.print(table)
        for sink in app.sinks:
            if sink["error"]:
                held = f"[red]unreadable: {safe(sink['error'])}[/]"
            elif not sink["keeps_value"]:
                held = "keeps no value between runs"
            else:
                held = ", ".join(_short(k) for k in sink["key_ids"]) or "no secret"
            out.print(f"  sink {numbers[sink['sink']]}: {safe(relative_path(sink['sink']))} → {held}")
        for secret, action in app.next.items():
            out.print(f"  next rotate, {safe(secret)!s}: {safe(action)}")
        for note in app.notes:
            out.print(f"  [yellow]note:[/] {safe(note)}")
        for problem in app.problems:
            out.print(f"  [red]problem:[/] {safe(problem)}")
    out.print("\nAll secrets healthy." if outcome.healthy else "\n[red]Some secrets need attention.[/]")
