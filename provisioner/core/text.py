"""Making any text safe to print on a terminal.

Names and messages reach the output from manifests, from the tenant (display
names anyone with Application.ReadWrite can set) and from servers. A raw ESC
sequence, CR or a bidi override in one of them can repaint the screen or
reorder what the reader sees (a display name that prints "No changes."), so
every line the tool prints passes through :func:`printable` first.
"""

from __future__ import annotations

import re

#: Bidirectional formatting characters (embeddings, overrides, isolates, marks) that reorder text.
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
#: Line and paragraph separators that some readers split on (U+0085 NEL, U+2028, U+2029).
SEPARATORS = "\u0085\u2028\u2029"

_UNSAFE = re.compile(f"[\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f{BIDI}{SEPARATORS}]")
_UNSAFE_ONE_LINE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{BIDI}{SEPARATORS}]")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, *, one_line: bool = False) -> str:
    """``text`` with control, bidi and separator characters shown as ``\\xNN`` / ``\\uNNNN``.

    Newlines are kept unless ``one_line`` (a name or a value that must stay on its line).
    """
    pattern = _UNSAFE_ONE_LINE if one_line else _UNSAFE
    return pattern.sub(_escape, text)


def has_unsafe(text: str) -> bool:
    """True when ``text`` holds a character :func:`printable` would escape on one line."""
    return _UNSAFE_ONE_LINE.search(text) is not None


def first_unsafe(text: str, *, multi_line: bool = False) -> str | None:
    """The first character :func:`printable` would escape (newlines allowed if ``multi_line``), or None."""
    match = (_UNSAFE if multi_line else _UNSAFE_ONE_LINE).search(text)
    return None if match is None else match.group(0)


def without_unsafe(text: str, *, multi_line: bool = False) -> str:
    """``text`` without the characters :func:`printable` would escape (newlines kept if ``multi_line``).

    For text this tool writes back as input (an exported manifest), where an escaped form would
    be taken literally and the raw form is refused by ``validate``.
    """
    pattern = _UNSAFE if multi_line else _UNSAFE_ONE_LINE
    return pattern.sub("", text)
