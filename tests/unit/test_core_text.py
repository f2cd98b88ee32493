"""``core.text``: what is escaped for printing is exactly what is removed for writing back as input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from provisioner.core.text import first_unsafe, has_unsafe, printable, without_unsafe


def test_escapes_and_removals_on_a_hostile_name() -> None:
    name = "Evil\x1b[2J\r\nNo changes.\u202e[red]x[/]\x00\u2028"
    assert printable(name, one_line=True) == "Evil\\x1b[2J\\x0d\\x0aNo changes.\\u202e[red]x[/]\\x00\\u2028"
    assert without_unsafe(name) == "Evil[2JNo changes.[red]x[/]"
    assert without_unsafe("line one\nline two\x07", multi_line=True) == "line one\nline two"


@given(st.text())
def test_without_unsafe_leaves_nothing_printable_would_escape(text: str) -> None:
    cleaned = without_unsafe(text)
    assert not has_unsafe(cleaned)
    assert printable(cleaned, one_line=True) == cleaned
    assert (cleaned == text) == (not has_unsafe(text))


@given(st.text(), st.booleans())
def test_first_unsafe_is_the_first_character_printable_escapes(text: str, multi_line: bool) -> None:
    expected = next(
        (c for c in text if not (multi_line and c == "\n") and printable(c, one_line=True) != c), None
    )
    assert first_unsafe(text, multi_line=multi_line) == expected
