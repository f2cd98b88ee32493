"""Progress lines on stderr ("… waiting 2 s: throttled"), shared by every layer.

Lower layers (Graph reads, retries) report waits too, and must not depend on the
views package to do it; stdout stays free for ``--json``.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from provisioner.core.text import printable

Progress = Callable[[str], None]


def print_progress(message: str) -> None:
    """One dimmed line on stderr; the message is escaped so it can never carry markup."""
    line = escape(printable(message, one_line=True))
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[dim]…[/] {line}")
