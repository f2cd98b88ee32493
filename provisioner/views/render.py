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
from collections.abc import Callable, Sequence
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
    "add_owner": ("+", "green"),
    "remove_owner": ("-", "red"),
    "create_federated_credential": ("+", "green"),
    "update_federated_credential": ("~", "yellow"),
    "remove_federated_credential": ("-", "red"),
}


def console(stderr: bool = False) -> Console:
    # highlight=False: rich's auto-highlighting would colour GUIDs and URLs unpredictably.
    # emoji=False: a name such as "Team :rocket:" is printed as written, not with an emoji in it.
    return Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)


def print_plan(
    plan: Any, warnings: list[Any] | None = None, destinations: dict[str, list[str]] | None = None
) -> None:
    """The plan; ``destinations`` (app -> sink descriptions) is listed below it when given."""
    if warnings:
        print_lines(console(stderr=True), [f"[yellow]warning:[/] {safe(warning)}" for warning in warnings])
    lines: list[str] = []
    if plan.is_empty:
        lines.append("No changes. The tenant matches the manifests.")
    else:
        current_app = None
        for action in plan.actions:
            if action.app != current_app:
                current_app = action.app
                lines.append(f"\n[bold]{safe(action.app)}[/]")
            symbol, colour = _SYMBOL.get(action.kind, ("*", "cyan"))
            lines.append(f"  [{colour}]{symbol}[/] {safe(action.summary)}")
            for change in getattr(action, "changes", []) or []:
                lines.append(
                    f"      {safe(change.field)}: {safe(_short(change.before))} → {safe(_short(change.after))}"
                )
        counts: dict[str, int] = {}
        for action in plan.actions:
            symbol = _SYMBOL.get(action.kind, ("*", ""))[0]
            counts[symbol] = counts.get(symbol, 0) + 1
        lines.append(
            f"\nPlan: {counts.get('+', 0)} to add, {counts.get('~', 0)} to change, {counts.get('-', 0)} to remove."
        )
    print_lines(console(), lines)
    if destinations:
        print_destinations(destinations)


def print_destinations(destinations: dict[str, list[str]]) -> None:
    """Where each app's connection values go (``sinks.describe_destination`` lines), one line per sink."""
    lines = ["\nConnection values go to:"]
    for app, places in destinations.items():
        lines += [f"  {safe(app)} → {safe(place)}" for place in places]
    print_lines(console(), lines)


def print_lines(out: Console, lines: list[str]) -> None:
    """``lines`` (rich markup, each closing its own tags) as one block: the same output as one
    ``out.print`` per line, at a fraction of the cost for a 1,000-app plan.

    On a terminal rich styles the block in one ``print`` (its per-call work, options, terminal
    checks and render pipeline, is paid once, not per line). Elsewhere (a pipe, a CI log) rich
    writes the markup's plain text and nothing else, so that text is written directly: rendering
    thousands of lines through rich's pipeline cost more CPU than the run's own work.
    """
    if not lines:
        return
    text = "\n".join(lines)
    if out.is_terminal:
        out.print(text)
        return
    out.file.write(markup_plain(text) + "\n")
    out.file.flush()


def markup_plain(markup: str) -> str:
    """The text rich shows for ``markup`` (``rich.markup.render(markup, emoji=False).plain``).

    Why not rich: ``render`` builds a styled ``Text`` (a span per tag) only for ``.plain`` to be
    read; for a 1,000-app plan that was ~5% of ``apply``'s CPU. Same grammar as rich (its
    own tag pattern): a tag is dropped, ``\\[`` is a literal bracket, pairs of backslashes before
    a tag are literal backslashes. Well-formed markup only (the tool's lines close their tags).
    """
    if "[" not in markup:
        return markup
    from rich.markup import RE_TAGS

    out: list[str] = []
    position = 0
    for match in RE_TAGS.finditer(markup):
        full, escapes, _ = match.groups()
        start, end = match.span()
        if start > position:
            out.append(markup[position:start].replace("\\[", "["))
        position = end
        if escapes:
            backslashes, escaped = divmod(len(escapes), 2)
            out.append("\\" * backslashes)
            if escaped:  # an escaped tag is text
                out.append(full[len(escapes) :].replace("\\[", "["))
    if position < len(markup):
        out.append(markup[position:].replace("\\[", "["))
    return "".join(out)


def print_table(out: Console, make_table: Callable[[], Table], rows: Sequence[Sequence[str]]) -> None:
    """``make_table()`` with ``rows`` (rich markup cells) added, printed: the same output as rich's.

    Rich lays a table out row by row, cell by cell (~0.3 ms a row): a 1,000-app apply or rotate
    spent a sixth of its CPU printing its table. On a terminal, or when the table does not fit
    the console's width (rich then folds cells over several lines), rich prints it. Otherwise
    every row is one line with fixed column positions, so rich lays out the table with one
    placeholder row whose cells are as wide as each column's widest cell, and each real row is
    written into that row's column positions.
    """
    if out.is_terminal or not rows:
        _rich_table(out, make_table, rows)
        return
    from rich.cells import cell_len

    cells = [[markup_plain(cell) for cell in row] for row in rows]
    columns = len(cells[0])
    widths = [max(cell_len(row[index]) for row in cells) for index in range(columns)]
    if min(widths) == 0 or any("\n" in cell for row in cells for cell in row):
        _rich_table(out, make_table, rows)
        return
    marks = [chr(0xE000 + index) for index in range(columns)]  # private-use characters, one cell wide
    probe = make_table()
    probe.add_row(*(mark * width for mark, width in zip(marks, widths, strict=True)))
    with out.capture() as captured:
        out.print(probe)
    lines = captured.get().split("\n")
    found = [number for number, line in enumerate(lines) if any(mark in line for mark in marks)]
    template = lines[found[0]] if len(found) == 1 else ""
    starts = [template.find(mark * width) for mark, width in zip(marks, widths, strict=True)]
    if not template or any(
        start < 0 or template.count(mark) != width
        for start, mark, width in zip(starts, marks, widths, strict=True)
    ):
        _rich_table(out, make_table, rows)  # folded: rich lays it out
        return
    body = []
    for row in cells:
        line, end = [], 0
        for start, width, cell in zip(starts, widths, row, strict=True):
            line += [template[end:start], cell, " " * (width - cell_len(cell))]
            end = start + width
        body.append("".join(line) + template[end:])
    out.file.write("\n".join([*lines[: found[0]], *body, *lines[found[0] + 1 :]]))
    out.file.flush()


def _rich_table(out: Console, make_table: Callable[[], Table], rows: Sequence[Sequence[str]]) -> None:
    table = make_table()
    for row in rows:
        table.add_row(*row)
    out.print(table)


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
    def make_table() -> Table:
        table = Table(
            title="Connection values",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
        )
        table.add_column("app", overflow="fold")
        table.add_column("client ID", no_wrap=True, min_width=36)
        table.add_column("secret", overflow="fold")
        table.add_column("expires", no_wrap=True)
        return table

    rows = [
        (safe(app), safe(client_id), safe(secret), safe(str(expires)[:10]))
        for app, client_id, _tenant, secret, _secret_id, expires, _written in outcome.rows(
            show_secrets=show_secrets
        )
    ]
    print_table(out, make_table, rows)
    print_lines(
        out,
        [
            f"{safe(conn.name)} → " + ", ".join(safe(relative_path(w)) for w in conn.written_to)
            for conn in outcome.connections
        ],
    )


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
    if "[" not in text and not text.endswith("\\"):  # nothing rich would escape (most names, ids)
        return text
    from rich.markup import escape

    return escape(text)


def safe(value: Any) -> str:
    """``value`` as one line of terminal text: control/bidi/separator characters escaped, markup escaped."""
    return escape_markup(printable(str(value), one_line=True))
