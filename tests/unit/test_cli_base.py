"""cli/_base: escaped output lines and the consent rule for deletions."""

from __future__ import annotations

import io
import sys

import pytest

from provisioner.cli import _base
from provisioner.cli._base import print_error, print_warning, printable_lines, require_consent_to_delete
from provisioner.core.errors import ProvisionerError


def test_lines_split_on_newline_only_and_escape_the_rest() -> None:
    message = "app a\x1b[31m\rNo changes.\u202e\u2028x\x85y\nsecond\tline"
    assert printable_lines(message) == [
        "app a\\x1b[31m\\x0dNo changes.\\u202e\\u2028x\\x85y",
        "second\\x09line",
    ]


def test_print_error_and_warning_prefix_every_line(capsys: pytest.CaptureFixture[str]) -> None:
    print_error("m.yaml:1: bad\nm.yaml:2: \x1b]0;title\x07worse")
    print_warning("one\u2029two")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "error: m.yaml:1: bad",
        "error: m.yaml:2: \\x1b]0;title\\x07worse",
        "warning: one\\u2029two",
    ]


class _Stdin(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__("")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_deleting_without_a_terminal_needs_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(tty=False))
    with pytest.raises(ProvisionerError) as caught:
        require_consent_to_delete(False, "destroy deletes applications")
    assert str(caught.value) == (
        "destroy deletes applications, and there is no terminal to ask for confirmation "
        "(stdin is not a TTY): pass --yes to go ahead; nothing was changed"
    )
    require_consent_to_delete(True, "destroy deletes applications")  # --yes: allowed


def test_deleting_on_a_terminal_is_left_to_the_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(tty=True))
    require_consent_to_delete(False, "destroy deletes applications")


def test_a_closed_stdin_is_no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdin", closed)
    assert _base._interactive() is False
    monkeypatch.setattr(sys, "stdin", None)
    assert _base._interactive() is False


def test_converging_without_a_terminal_goes_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(tty=False))
    assert _base.confirmed(False) is True


def test_a_command_runs_without_the_cycle_collector_and_freezes_at_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The console script's process policy (``provisioner.cli.main``): see ``_no_cycle_collection``."""
    import gc

    import provisioner.cli as cli

    seen: list[bool] = []

    def command() -> None:
        seen.append(gc.isenabled())
        raise SystemExit(0)

    monkeypatch.setattr(cli, "app", command)
    monkeypatch.setattr(cli, "_skip_unused_imports", lambda: None)
    was_enabled = gc.isenabled()
    try:
        with pytest.raises(SystemExit):
            cli.main()
        assert seen == [False]
        assert gc.get_freeze_count() > 0  # the exit's collections have nothing left to walk
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
