"""dotenv sink: ``KEY=value`` lines in a managed block, replaced atomically (0600 when created).

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
(``mailbox`` -> ``MAILBOX``). A sink's ``rename`` gives a value its whole variable name instead
(no prefix; :func:`provisioner.model.dotenv_format.block_name`), and every read of the block
(held keyId, secret recovery) looks there first.

Spelling of values: the sink's ``dialect`` (:mod:`provisioner.model.dotenv_format`).
``portable`` (the default) writes every value bare so ``set -a; . file`` (bash,
dash), python-dotenv and ``docker run --env-file`` read the same string, and
refuses values no bare spelling carries (a scope list with spaces: choose
``dialect: shell`` or ``dialect: docker``). ``validate`` refuses what it can know
offline; the rest (IDs, URLs, the secret) is checked here before anything is written.

Provenance: a file holding at least one of the tool's block markers was written
by this tool. Any other existing file (``~/.bashrc``, a hand-written ``.env``) is
left alone unless the sink says ``overwrite: true``; an existing file keeps its mode.
The file is read as ``\\n``-separated lines only: a U+2028 or U+0085 inside a line
never starts a new one (the writer never writes them, and a user's line keeps them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provisioner.core.errors import SinkError
from provisioner.model.dotenv_format import (
    DOTENV_NAMES,
    NAME,
    PREFIX,
    Dialect,
    block_name,
    problem,
    quote,
    unquote,
    variable_name,
)
from provisioner.model.manifest import App, DotenvSink
from provisioner.sinks.common import (
    DeliveryReceipt,
    ExistingFile,
    flat_values,
    held_secret_id,
    read_existing,
    reason,
    resolve_path,
    write_file,
)

_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=")
_BEGIN = re.compile(r"^# >>> provisioner app (\S+) >>>")
_END = re.compile(r"^# <<< provisioner app (\S+) <<<")

Items = list[str | tuple[str, list[str]]]


def render_lines(
    app: App,
    values: Mapping[str, Any],
    prefix: str,
    dialect: Dialect = "portable",
    rename: Mapping[str, str] | None = None,
) -> list[str]:
    """``NAME=value`` lines for the app's block (without the markers); SinkError names the variable, never the value."""
    trouble = problems(app, values, prefix, dialect, rename)
    if trouble:
        raise SinkError(trouble[0])
    return [
        f"{name}={quote(value, dialect)}"
        for key, value in flat_values(values).items()
        if (name := block_name(key, prefix, rename)) is not None
    ]


def problems(
    app: App,
    values: Mapping[str, Any],
    prefix: str,
    dialect: Dialect = "portable",
    rename: Mapping[str, str] | None = None,
) -> list[str]:
    """Every reason the app's block could not be written (one line each, naming variables, never values)."""
    if not PREFIX.match(prefix):
        return [f"app {app.name!r}: dotenv prefix {prefix!r} is not a valid variable name prefix"]
    found: list[str] = []
    seen: dict[str, str] = {}
    for key, value in flat_values(values).items():
        name = block_name(key, prefix, rename)
        if name is None:
            continue
        if not NAME.match(name):
            found.append(f"app {app.name!r}: value {key!r} gives no valid dotenv variable name ({name!r})")
            continue
        if name in seen:
            found.append(f"app {app.name!r}: values {seen[name]!r} and {key!r} both map to dotenv {name}")
            continue
        seen[name] = key
        why = problem(value, dialect)
        if why:
            found.append(
                f"app {app.name!r}: dotenv ({dialect}) cannot carry {name}: {why}; " + _dialect_hint(dialect)
            )
    return found


def _dialect_hint(dialect: Dialect) -> str:
    if dialect == "portable":
        return (
            "set dialect: shell (for '. file' and python-dotenv) or dialect: docker (for docker --env-file)"
        )
    return "change the value or use a json sink"


def split_lines(text: str) -> list[str]:
    """Lines split on ``\\n`` only (a trailing newline ends the last line; ``\\r\\n`` keeps its ``\\r``)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _split_blocks(lines: list[str], path: Path) -> tuple[Items, dict[str, list[str]]]:
    """The file as a list of outside lines and ``(app, block lines)`` items."""
    items: Items = []
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
        elif _BEGIN.match(line):
            raise SinkError(
                f"dotenv file {path}: block of app {current[0]!r} has no end marker before the next block; fix the file"
            )
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
    return read_existing(path, "dotenv file").text


def describe(sink: DotenvSink, base_dir: str | os.PathLike[str] | None = None) -> str:
    return f"dotenv file {resolve_path(sink.path, base_dir)}"


def inspect(
    sink: DotenvSink, app: App, path: Path, names: set[str] | None = None
) -> tuple[ExistingFile, Items]:
    """The file at ``path`` split into lines and blocks, if this sink may write into it.

    SinkError (one line, never a value) when it is unreadable, has a block without its end
    marker, was not written by this tool and the sink has no ``overwrite: true``, or another
    app's block sets one of ``names``.
    """
    existing = read_existing(path, "dotenv file")
    if existing.text is None:
        return existing, []
    items, blocks = _split_blocks(split_lines(existing.text), path)
    if not blocks and not sink.overwrite:
        raise SinkError(
            f"app {app.name!r}: dotenv file {path} exists and was not written by provisioner (no provisioner "
            "block in it); refusing to add a secret to it (choose another path, or set overwrite: true on the sink)"
        )
    for other, block in blocks.items():
        clash = sorted((names or set()) & {name for line in block if (name := _assigned(line))})
        if other != app.name and clash:
            raise SinkError(
                f"dotenv file {path}: apps {other!r} and {app.name!r} both write {clash[0]}; "
                "give one of them a prefix"
            )
    return existing, items


def deliver(
    sink: DotenvSink, app: App, values: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None
) -> DeliveryReceipt:
    path = resolve_path(sink.path, base_dir)
    ours = render_lines(app, values, sink.prefix, sink.dialect, sink.rename)
    our_names = {name for line in ours if (name := _assigned(line))}
    existing, items = inspect(sink, app, path, our_names)
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
        write_file(path, "\n".join(out) + "\n", existing)
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
    _, blocks = _split_blocks(split_lines(text), path)
    found: dict[str, str] = {}
    for line in blocks.get(app.name, []):
        name = _assigned(line)
        if name:
            found[name] = unquote(line.split("=", 1)[1], sink.dialect)
    return found


def _block_value(sink: DotenvSink, block: Mapping[str, str], key: str) -> str | None:
    """The value the block holds for a connection-values key, under the sink's ``rename`` if it has one.

    A block written before the sink had its ``rename`` still holds the key under the default
    name: it is read there too, so the secret it holds is not taken for unheld (and removed).
    """
    name = block_name(key, sink.prefix, sink.rename)
    if name is not None and name in block:
        return block[name]
    fallback = variable_name(key, sink.prefix)
    return None if fallback in sink.rename.values() else block.get(fallback)


def held_key_id(sink: DotenvSink, app: App, *, base_dir: str | os.PathLike[str] | None = None) -> str | None:
    block = read_block(sink, app, base_dir=base_dir)
    return held_secret_id(
        {
            "client_secret": _block_value(sink, block, "client_secret"),
            "client_secret_id": _block_value(sink, block, "client_secret_id"),
        }
    )


def held_secret(
    sink: DotenvSink, app: App, *, base_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """The secret fields (and the ids they belong to) of the app's block, when it holds a value."""
    block = read_block(sink, app, base_dir=base_dir)
    keys = ("tenant_id", "client_id", "client_secret", "client_secret_id", "client_secret_expires")
    found = {key: _block_value(sink, block, key) for key in keys}
    return {k: v for k, v in found.items() if v} if found["client_secret"] else None


__all__ = [
    "DOTENV_NAMES",
    "deliver",
    "describe",
    "held_key_id",
    "held_secret",
    "inspect",
    "problems",
    "quote",
    "read_block",
    "render_lines",
    "split_lines",
    "unquote",
    "variable_name",
]
