"""dotenv files read alike by every reader their dialect promises, for hostile values too.

Readers, all real except Docker's:

* ``bash`` and ``dash`` running ``set -a; . FILE`` in an empty environment, then ``env -0``;
* python-dotenv's ``dotenv_values`` (interpolation on, its default);
* ``docker run --env-file``: there is no Docker engine here, so :func:`docker_env_file` follows
  Docker's documented env-file rule instead — one ``VAR=VAL`` per line, lines split on ``\\n``
  (a trailing ``\\r`` dropped), leading blanks trimmed, blank and ``#`` lines skipped, the value
  taken literally after the first ``=`` (no quote removal, no escapes);
* the sink's own reader (``read_block``), which must split on ``\\n`` only.

A value is either written so that all of them see exactly that string, or refused with a
SinkError that names the variable and not the value — never written wrongly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values
from dotenv_support import docker_env_file, shell_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.core.errors import SinkError
from provisioner.model.dotenv_format import Dialect, problem
from provisioner.model.manifest import App, DotenvSink
from provisioner.sinks import deliver
from provisioner.sinks.dotenv_sink import read_block

HOSTILE = [
    *" '\"\\$`~:#=;&|<>(){}*?![]\t\n\r\x00\x1b\x7f\x85\u2028\u2029\u202e\u200f%@+,.-_/é中",
    "${HOME}",
    "$(touch pwned)",
    "`touch pwned`",
    "# >>> provisioner app other >>>",
    "'\\''",
]
values_strategy = st.one_of(
    st.lists(st.sampled_from([*HOSTILE, "a", "Z", "0", "x9"]), max_size=8).map("".join),
    st.text(max_size=12),
    st.from_regex(r"[A-Za-z0-9~._-]{1,40}", fullmatch=True),  # the alphabet of Entra client secrets
)


def make_app() -> App:
    return App.model_validate({"name": "hostile.app", "display_name": "Hostile"})


def write(tmp: Path, dialect: Dialect, values: list[str]) -> tuple[Path, dict[str, str], list[str]]:
    """Deliver ``values`` as V0..Vn one at a time; returns the file, what was written, what was refused."""
    path = tmp / "app.env"
    path.unlink(missing_ok=True)
    app = make_app()
    sink = DotenvSink(type="dotenv", path=str(path), dialect=dialect)
    written: dict[str, str] = {}
    refused: list[str] = []
    for index, value in enumerate(values):
        name = f"V{index}"
        attempt = {**{k.lower(): v for k, v in written.items()}, name.lower(): value}
        try:
            deliver(sink, app, attempt)
        except SinkError as exc:
            why = problem(value, dialect)
            assert why is not None
            # One line naming the variable; the reason names at most one character, never the value.
            assert str(exc).startswith(f"app 'hostile.app': dotenv ({dialect}) cannot carry {name}: {why}; ")
            assert "\n" not in str(exc)
            refused.append(value)
            continue
        assert problem(value, dialect) is None
        written[name] = value
    return path, written, refused


def check_readers(tmp: Path, dialect: Dialect, path: Path, written: dict[str, str]) -> None:
    if not path.exists():
        assert not written
        return
    text = path.read_text(encoding="utf-8")
    assert all(ch not in text for ch in "\r\x85\u2028\u2029\x00")  # \n is the only line break
    ours = read_block(DotenvSink(type="dotenv", path=str(path), dialect=dialect), make_app())
    assert ours == written
    if dialect in ("portable", "docker"):
        seen = docker_env_file(text)
        assert {k: seen[k] for k in written} == written
    if dialect in ("portable", "shell"):
        assert {k: v for k, v in dotenv_values(path).items() if k in written} == written
        for shell in ("bash", "dash"):
            exported = shell_env(shell, path, tmp)
            assert {k: exported.get(k) for k in written} == written, shell
        assert not (tmp / "pwned").exists()


@pytest.mark.parametrize("dialect", ["portable", "shell", "docker"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(values_strategy, min_size=1, max_size=6))
def test_every_reader_sees_the_written_value_or_it_is_refused(
    dialect: Dialect, values: list[str], tmp_path: Path
) -> None:
    path, written, _ = write(tmp_path, dialect, values)
    check_readers(tmp_path, dialect, path, written)


FIXED = [
    "${HOME}",
    "$HOME",
    "x${HOME:-y}",
    "a b",
    " lead",
    "trail ",
    "it's",
    "~",
    "x:~",
    "a~b",
    "#x",
    "a #b",
    "\\",
    "a\\'b",
    "'\\''",
    "\t",
    "é中",
    "",
    "=x",
    "a=b",
    "$(touch pwned)",
    "`touch pwned`",
    "x;touch pwned",
]


@pytest.mark.parametrize("dialect", ["portable", "shell", "docker"])
def test_fixed_hostile_values_are_read_alike_or_refused(dialect: Dialect, tmp_path: Path) -> None:
    path, written, refused = write(tmp_path, dialect, FIXED)
    check_readers(tmp_path, dialect, path, written)
    assert len(written) + len(refused) == len(FIXED)
    if dialect == "shell":
        assert "${HOME}" in refused and "x${HOME:-y}" in refused  # python-dotenv would interpolate them
        assert "$HOME" in written.values() and "a b" in written.values()


# --- the measured cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["portable", "shell"])
def test_command_substitution_is_refused_for_sourced_dialects(dialect: Dialect, tmp_path: Path) -> None:
    """``it's $(touch x)`` was written in double quotes; ``set -a; . file`` ran the command."""
    _, written, refused = write(tmp_path, dialect, ["it's $(touch x)"])
    assert refused == ["it's $(touch x)"] and not written
    assert not (tmp_path / "app.env").exists() and not (tmp_path / "x").exists()


def test_command_substitution_stays_text_in_the_docker_dialect(tmp_path: Path) -> None:
    path, written, _ = write(tmp_path, "docker", ["it's $(touch x)"])
    assert docker_env_file(path.read_text())["V0"] == "it's $(touch x)" == written["V0"]


def test_shell_dialect_quotes_what_needs_quoting_and_runs_nothing(tmp_path: Path) -> None:
    hostile = ["a b", "$(touch pwned)", "`touch pwned`", "it's", 'say "hi" \\ ok', "~root", "x;touch pwned"]
    path, written, refused = write(tmp_path, "shell", hostile)
    assert not refused
    check_readers(tmp_path, "shell", path, written)


@pytest.mark.parametrize("separator", ["\u2028", "\u0085", "\u2029", "\r", "\n", "\x0b", "\x0c"])
@pytest.mark.parametrize("dialect", ["portable", "shell", "docker"])
def test_line_separators_are_refused_never_written_raw(
    separator: str, dialect: Dialect, tmp_path: Path
) -> None:
    """A U+2028 / U+0085 value was written raw and the sink's own reader split on it."""
    injected = f"x{separator}# <<< provisioner app hostile.app <<<{separator}EVIL=1"
    _, written, refused = write(tmp_path, dialect, ["ok", injected])
    assert refused == [injected] and written == {"V0": "ok"}


def test_reader_splits_on_newline_only(tmp_path: Path) -> None:
    """A user's line holding U+2028 and a fake end marker does not end or open a block."""
    path = tmp_path / "app.env"
    app = make_app()
    sink = DotenvSink(type="dotenv", path=str(path))
    deliver(sink, app, {"first": "1"})
    user = "NOTE=a\u2028# <<< provisioner app hostile.app <<<\u0085# >>> provisioner app evil >>>"
    path.write_text(user + "\n" + path.read_text(), encoding="utf-8")
    deliver(sink, app, {"first": "2"})
    text = path.read_text(encoding="utf-8")
    assert text.split("\n")[0] == user  # kept as the user wrote it
    assert read_block(sink, app) == {"FIRST": "2"}
    assert text.count("# >>> provisioner app hostile.app >>>") == 1


def test_portable_dialect_carries_entra_secrets_ids_urls_bare(tmp_path: Path) -> None:
    values: dict[str, Any] = {
        "client_secret": "abc8Q~x.y_z-0~9",
        "client_secret_id": "5f1d2e3c-0000-4000-8000-00000000abcd",
        "client_secret_expires": "2027-03-01T00:00:00Z",
        "token_url": "https://127.0.0.1:8443/organizations/oauth2/v2.0/token",
        "scopes": "https://graph.microsoft.com/.default",
    }
    path = tmp_path / "app.env"
    deliver(DotenvSink(type="dotenv", path=str(path)), make_app(), values)
    text = path.read_text()
    assert "'" not in text and '"' not in text
    written = {
        "AZURE_CLIENT_SECRET": values["client_secret"],
        "AZURE_CLIENT_SECRET_ID": values["client_secret_id"],
        "AZURE_CLIENT_SECRET_EXPIRES": values["client_secret_expires"],
        "TOKEN_URL": values["token_url"],
        "SCOPES": values["scopes"],
    }
    check_readers(tmp_path, "portable", path, written)


def test_environment_is_not_inherited_by_the_shell_reader(tmp_path: Path) -> None:
    """Guards the harness: the shell reader would hide an unset variable if it inherited ours."""
    os.environ["PROVISIONER_TEST_MARKER"] = "1"
    try:
        path = tmp_path / "e.env"
        path.write_text("A=1\n")
        assert "PROVISIONER_TEST_MARKER" not in shell_env("bash", path, tmp_path)
    finally:
        del os.environ["PROVISIONER_TEST_MARKER"]
