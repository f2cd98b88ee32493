"""``views.render.print_lines`` / ``print_table`` write exactly what rich writes, styled or not."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich import box
from rich.console import Console
from rich.errors import MarkupError
from rich.markup import render
from rich.table import Table

from provisioner.views.render import markup_plain, print_lines, print_table, safe

TRICKY = ["a\\", "[bold]x[/]", "\\[red]", "end\\\\", ":smile: ok", "x\x1b[31m", "[", "]", "a\\\\[b]", "→ é"]


def _lines() -> list[str]:
    lines: list[str] = []
    for text in TRICKY:
        lines += [f"  [green]+[/] {safe(text)}", f"\n[bold]{safe(text)}[/]", safe(text), ""]
    return lines


@pytest.mark.parametrize("terminal", [False, True])
def test_one_block_prints_what_one_print_per_line_prints(terminal: bool) -> None:
    def make() -> Console:
        return Console(
            file=io.StringIO(), highlight=False, soft_wrap=True, emoji=False, force_terminal=terminal
        )

    each, block = make(), make()
    for line in _lines():
        each.print(line)
    print_lines(block, _lines())
    assert block.file.getvalue() == each.file.getvalue()  # type: ignore[attr-defined]
    assert ("\x1b[" in block.file.getvalue()) is terminal  # type: ignore[attr-defined]


def test_nothing_printed_for_no_lines() -> None:
    out = Console(file=io.StringIO(), highlight=False, soft_wrap=True, emoji=False)
    print_lines(out, [])
    assert out.file.getvalue() == ""  # type: ignore[attr-defined]


def _apply_table() -> Table:
    table = Table(
        title="Connection values", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
    )
    table.add_column("app", overflow="fold")
    table.add_column("client ID", no_wrap=True, min_width=36)
    table.add_column("secret", overflow="fold")
    table.add_column("expires", no_wrap=True)
    return table


def _rotate_table() -> Table:
    table = Table(title="Secrets at 2026-11-30 20:00 UTC", title_justify="left")
    for column in ("app", "secret", "status", "keyId"):
        table.add_column(column, overflow="fold")
    return table


WORDS = ["a", "bench-app-001", "界面-应用", "[bold]x[/]", ":smile:", "x" * 30, "-", "é" * 5, "a\\", "\\[x]"]


@pytest.mark.parametrize("terminal", [False, True])
@pytest.mark.parametrize("make", [_apply_table, _rotate_table])
@pytest.mark.parametrize("seed", range(12))
def test_table_prints_what_rich_prints(make: Callable[[], Table], seed: int, terminal: bool) -> None:
    """Same text as rich, including tables too wide for 80 columns (folded) and wide characters."""
    rng = random.Random(seed)
    rows = [
        tuple(
            f"[green]{safe(rng.choice(WORDS))}[/]"
            if col == 2
            else safe(rng.choice(WORDS) * rng.randint(1, 2))
            for col in range(4)
        )
        for _ in range(rng.randint(0, 6))
    ]

    def console() -> Console:
        return Console(
            file=io.StringIO(), highlight=False, soft_wrap=True, emoji=False, force_terminal=terminal
        )

    expected, got = console(), console()
    table = make()
    for row in rows:
        table.add_row(*row)
    expected.print(table)
    print_table(got, make, rows)
    assert got.file.getvalue() == expected.file.getvalue()  # type: ignore[attr-defined]


_pieces = st.one_of(
    st.sampled_from(
        ["[bold]", "[/]", "[/bold]", "[green]", "[dim]", "\\", "\\\\", "[", "]", "\\[", ":smile:"]
    ),
    st.text(alphabet="ab [\\]/:#@x", max_size=6),
)


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(_pieces, max_size=12), values=st.lists(st.text(max_size=8), max_size=3))
def test_markup_plain_is_richs_plain_text(parts: list[str], values: list[str]) -> None:
    markup = "".join(parts) + "".join(f"[green]+[/] {safe(value)}" for value in values)
    try:
        expected = render(markup, emoji=False).plain
    except MarkupError:  # not well formed: the tool never prints such markup
        return
    assert markup_plain(markup) == expected


def test_names_are_printed_as_written_not_as_emoji() -> None:
    from provisioner.views import render as views

    for terminal in (False, True):
        out = views.console()
        out.file = io.StringIO()
        out._force_terminal = terminal
        print_lines(out, [f"[bold]{safe('Team :rocket: :smile:')}[/]"])
        assert "Team :rocket: :smile:" in out.file.getvalue()
