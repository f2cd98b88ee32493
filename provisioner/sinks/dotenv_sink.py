"""dotenv sink: ``KEY=value`` lines in a managed block, mode 0600, replaced atomically.

Several apps may share one ``.env`` (that is what the ``prefix`` is for, e.g.
``EXCHANGE_``), and users keep their own variables in it. So each app owns one
block between marker comments; a write replaces only that block (keys an
older manifest produced disappear with it) and keeps every other line. A
line outside the block that sets one of the block's keys is dropped: the
block is the single source of those keys (dotenv loaders disagree on
whether the first or the last duplicate wins).

Variable names (after the prefix) follow azure-identity's ``EnvironmentCredential``
where one exists, so ``DefaultAzureCredential`` works straight from the file:
``AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST``;
then ``AZURE_CLIENT_SECRET_ID, AZURE_CLIENT_SECRET_EXPIRES, AUTHORIZATION_URL,
TOKEN_URL, TENANT_AUTHORIZATION_URL, TENANT_TOKEN_URL, SCOPES, APP_SCOPES,
REDIRECT_URI, REDIRECT_URIS, GRAPH_ENDPOINT``; extra values upper-cased
(``mailbox`` -> ``MAILBOX``).

Quoting: plain values stay bare; values with spaces or shell-special
characters are single-quoted (literal in POSIX shells and dotenv loaders);
values holding ``'``, ``\\`` or a newline are double-quoted with ``\\\\``,
``\\"`` and ``\\n`` escapes (dotenv semantics).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provisioner.core.errors import SinkError
from provisioner.core.fileio import atomic_write_text
from provisioner.model.manifest import App, DotenvSink
from provisioner.sinks.common import DeliveryReceipt, flat_values, held_secret_id, reason, resolve_path

DOTENV_NAMES: dict[str, str] = {
    "tenant_id": "AZURE_TENANT_ID",
    "client_id": "AZURE_CLIENT_ID",
    "client_secret": "AZURE_CLIENT_SECRET",
    "client_secret_id": "AZURE_CLIENT_SECRET_ID",
    "client_secret_expires": "AZURE_CLIENT_SECRET_EXPIRES",
    "authority_host": "AZURE_AUTHORITY_HOST",
    "authorization_url": "AUTHORIZATION_URL",
    "token_url": "TOKEN_URL",
    "tenant_authorization_url": "TENANT_AUTHORIZATION_URL",
    "tenant_token_url": "TENANT_TOKEN_URL",
    "scopes": "SCOPES",
    "app_scopes": "APP_SCOPES",
    "redirect_uri": "REDIRECT_URI",
    "redirect_uris": "REDIRECT_URIS",
    "graph_endpoint": "GRAPH_ENDPOINT",
}
# Descriptive keys a process environment has no use for.
_SKIPPED = frozenset({"app", "display_name", "audience"})

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BARE = re.compile(r"^[A-Za-z0-9_./:@%+,-]+$")
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=")
_BEGIN = re.compile(r"^# >>> provisioner app (\S+) >>>")
_END = re.compile(r"^# <<< provisioner app (\S+) <<<")
_DQ_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}
_DQ_UNESCAPES = {"\\": "\\", '"': '"', "n": "\n", "r": "\r"}


def variable_name(key: str, prefix: str = "") -> str:
    """The dotenv variable for a connection-values key."""
    base = DOTENV_NAMES.get(key) or re.sub(r"[^A-Za-z0-9_]", "_", key).upper()
    return f"{prefix}{base}"


def quote(value: str) -> str:
    if _BARE.match(value):
        return value
    if not any(ch in value for ch in "'\\\n\r"):
        return f"'{value}'"
    return '"' + "".join(_DQ_ESCAPES.get(ch, ch) for ch in value) + '"'


def unquote(raw: str) -> str:
    """Inverse of :func:`quote` (enough to read back what this sink wrote)."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        out: list[str] = []
        chars = iter(raw[1:-1])
        for ch in chars:
            if ch == "\\":
                nxt = next(chars, "")
                out.append(_DQ_UNESCAPES.get(nxt, "\\" + nxt))
            else:
                out.append(ch)
        return "".join(out)
    return raw


def render_lines(app: App, values: Mapping[str, Any], prefix: str) -> list[str]:
    """``NAME=value`` lines for the app's block (without the markers)."""
    if prefix and not _NAME.match(prefix):
        raise SinkError(f"app {app.name!r}: dotenv prefix {prefix!r} is not a valid variable name prefix")
    lines: list[str] = []
    seen: dict[str, str] = {}
    for key, value in flat_values(values).items():
        if key in _SKIPPED:
            continue
        name = variable_name(key, prefix)
        if not _NAME.match(name):
            raise SinkError(f"app {app.name!r}: value {key!r} gives no valid dotenv variable name ({name!r})")
        if name in seen:
            raise SinkError(f"app {app.name!r}: values {seen[name]!r} and {key!r} both map to dotenv {name}")
        seen[name] = key
        lines.append(f"{name}={quote(value)}")
    return lines


def _split_blocks(
    lines: list[str], path: Path
) -> tuple[list[str | tuple[str, list[str]]], dict[str, list[str]]]:
    """The file as a list of outside lines and ``(app, block lines)`` items."""
    items: list[str | tuple[str, list[str]]] = []
    blocks: dict[str, list[str]] = {}
    current: tuple[str, list[str]] | None = None
    for line in lines:
        if current is None:
            begin = _BEGIN.match(line)
            if begin:
                current = (begin.group(1), [])
            else:
                items.append(line)
            continue
        end = _END.match(line)
        if end and end.group(1) == current[0]:
            items.append(current)
            blocks[current[0]] = current[1]
            current = None
        else:
            current[1].append(line)
    if current is not None:
        raise SinkError(f"dotenv file {path}: block of app {current[0]!r} has no end marker; fix the file")
    return items, blocks


def _begin_marker(app_name: str) -> str:
    return f"# >>> provisioner app {app_name} >>> (managed by provisioner; edits here are overwritten)"


def _end_marker(app_name: str) -> str:
    return f"# <<< provisioner app {app_name} <<<"


def _assigned(line: str) -> str | None:
    match = _ASSIGNMENT.match(line)
    return match.group(1) if match else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SinkError(f"cannot read dotenv file {path}: {reason(exc)}") from None


def describe(sink: DotenvSink, base_dir: str | os.PathLike[str] | None = None) -> str:
    return f"dotenv file {resolve_path(sink.path, base_dir)}"


def deliver(
    sink: DotenvSink, app: App, values: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None
) -> DeliveryReceipt:
    path = resolve_path(sink.path, base_dir)
    ours = render_lines(app, values, sink.prefix)
    our_names = {name for line in ours if (name := _assigned(line))}
    existing = _read(path)
    items, blocks = _split_blocks(existing.splitlines() if existing else [], path)
    for other, block in blocks.items():
        clash = sorted(our_names & {name for line in block if (name := _assigned(line))})
        if other != app.name and clash:
            raise SinkError(
                f"dotenv file {path}: apps {other!r} and {app.name!r} both write {clash[0]}; "
                "give one of them a prefix"
            )
    block = [_begin_marker(app.name), *ours, _end_marker(app.name)]
    out: list[str] = []
    placed = False
    for item in items:
        if isinstance(item, tuple):
            if item[0] == app.name:
                out += block
                placed = True
            else:
                out += [_begin_marker(item[0]), *item[1], _end_marker(item[0])]
        elif _assigned(item) not in our_names:
            out.append(item)
    if not placed:
        if out and out[-1].strip():
            out.append("")
        out += block
    try:
        atomic_write_text(path, "\n".join(out) + "\n")
    except OSError as exc:
        raise SinkError(f"app {app.name!r}: cannot write dotenv file {path}: {reason(exc, values)}") from None
    return DeliveryReceipt(describe(sink, base_dir), held_secret_id(values))


def read_block(
    sink: DotenvSink, app: App, *, base_dir: str | os.PathLike[str] | None = None
) -> dict[str, str]:
    """The variables of the app's block as written (prefix included in the names)."""
    path = resolve_path(sink.path, base_dir)
    text = _read(path)
    if text is None:
        return {}
    _, blocks = _split_blocks(text.splitlines(), path)
    found: dict[str, str] = {}
    for line in blocks.get(app.name, []):
        name = _assigned(line)
        if name:
            found[name] = unquote(line.split("=", 1)[1])
    return found


def held_key_id(sink: DotenvSink, app: App, *, base_dir: str | os.PathLike[str] | None = None) -> str | None:
    block = read_block(sink, app, base_dir=base_dir)
    return held_secret_id(
        {
            "client_secret": block.get(variable_name("client_secret", sink.prefix)),
            "client_secret_id": block.get(variable_name("client_secret_id", sink.prefix)),
        }
    )


def held_secret(
    sink: DotenvSink, app: App, *, base_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """The secret fields (and the ids they belong to) of the app's block, when it holds a value."""
    block = read_block(sink, app, base_dir=base_dir)
    keys = ("tenant_id", "client_id", "client_secret", "client_secret_id", "client_secret_expires")
    found = {key: block.get(variable_name(key, sink.prefix)) for key in keys}
    return {k: v for k, v in found.items() if v} if found["client_secret"] else None
