"""Progress lines on stderr ("… waiting 2 s: throttled"), shared by every layer.

Lower layers (Graph reads, retries) report waits too, and must not depend on the
views package to do it; stdout stays free for ``--json``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape

from provisioner.core.text import printable

Progress = Callable[[str], None]


_console: tuple[Any, Console] | None = None


def _stderr_console() -> Console:
    """One Console per ``sys.stderr`` object: building one per line cost more than printing it
    (a 1,000-app apply prints thousands of lines). A replaced ``sys.stderr`` (tests capturing
    output) gets a console of its own, so terminal detection stays right."""
    global _console
    if _console is None or _console[0] is not sys.stderr:
        _console = (sys.stderr, Console(stderr=True, highlight=False, soft_wrap=True, emoji=False))
    return _console[1]


def print_progress(message: str) -> None:
    """One dimmed line on stderr; the message is escaped so it can never carry markup.

    When stderr is not a terminal (CI logs, a pipe) and colour is not forced, the line is
    written as is, without rich: that is all rich would write there, and rendering thousands
    of progress lines (a 1,000-app run) through it cost more CPU than the run's own work.
    """
    text = printable(message, one_line=True)
    stream = sys.stderr
    if not _styled(stream):
        stream.write(f"… {text}\n")
        stream.flush()
        return
    _stderr_console().print(f"[dim]…[/] {escape(text)}")


def _styled(stream: Any) -> bool:
    if os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE") == "1":
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
