"""``views.render.print_lines`` writes exactly what one rich ``print`` per line writes, styled or not."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from provisioner.views.render import print_lines, safe

TRICKY = ["a\\", "[bold]x[/]", "\\[red]", "end\\\\", ":smile: ok", "x\x1b[31m", "[", "]", "a\\\\[b]", "→ é"]


def _lines() -> list[str]:
    lines: list[str] = []
    for text in TRICKY:
        lines += [f"  [green]+[/] {safe(text)}", f"\n[bold]{safe(text)}[/]", safe(text), ""]
    return lines


@pytest.mark.parametrize("terminal", [False, True])
def test_one_block_prints_what_one_print_per_line_prints(terminal: bool) -> None:
    def make() -> Console:
        return Console(file=io.StringIO(), highlight=False, soft_wrap=True, force_terminal=terminal)

    each, block = make(), make()
    for line in _lines():
        each.print(line)
    print_lines(block, _lines())
    assert block.file.getvalue() == each.file.getvalue()  # type: ignore[attr-defined]
    assert ("\x1b[" in block.file.getvalue()) is terminal  # type: ignore[attr-defined]


def test_nothing_printed_for_no_lines() -> None:
    out = Console(file=io.StringIO(), highlight=False, soft_wrap=True)
    print_lines(out, [])
    assert out.file.getvalue() == ""  # type: ignore[attr-defined]
