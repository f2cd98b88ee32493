"""Atomic, private file writes for files that hold secrets.

Connection files and dotenv files carry client secret values, so two things
must hold at every instant, including after a crash or a full disk:

* the file is never world- or group-readable, not even between ``open`` and a
  later ``chmod`` — so the temporary file is *created* with its final mode
  (``os.open`` with ``O_CREAT | O_EXCL``) and never chmod-ed after data is in it;
* readers see either the old content or the new content, never a prefix —
  so the data goes to a temporary file in the same directory (same file
  system, so ``os.replace`` is an atomic rename), is fsync-ed, renamed over the
  target, and the directory is fsync-ed so the rename itself survives a crash.

A run that writes many files (one connection file per app) can wrap them in
:func:`directory_syncs_deferred`: each file's data is still fsync-ed before its
rename, while each directory is fsync-ed once when the block ends (before the
caller goes on to anything that relies on the files), not once per file.

Errors are plain ``OSError``: callers (the sinks) turn them into one-line
``SinkError`` messages that name the path.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents with mode exactly 0700, whatever the umask.

    ``Path.mkdir(parents=True, mode=...)`` applies the mode only to the last
    component, and ``mkdir`` masks the mode with the umask (a umask of 0277
    would leave the owner unable to write), so missing parents are created one
    by one here and each is set to 0700 right after. Existing directories are
    left alone: their mode is the user's decision. Errors are plain ``OSError``.
    """
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:  # a concurrent writer created it first: its mode is not ours to set
            if not path.is_dir():
                raise
            continue
        os.chmod(path, PRIVATE_DIR_MODE)


_deferred: ContextVar[set[Path] | None] = ContextVar("deferred_directory_syncs", default=None)


@contextlib.contextmanager
def directory_syncs_deferred() -> Iterator[None]:
    """Inside the block, fsync each written directory once at the end instead of after every rename.

    The directories are synced when the block ends, also when it ends with an exception, so
    every rename done inside is durable before the caller continues.
    """
    if _deferred.get() is not None:  # nested: the outer block syncs
        yield
        return
    pending: set[Path] = set()
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
        for directory in sorted(pending):
            _fsync_directory_now(directory)


def _fsync_directory(directory: Path) -> None:
    pending = _deferred.get()
    if pending is not None:
        pending.add(directory)
    else:
        _fsync_directory_now(directory)


def _fsync_directory_now(directory: Path) -> None:
    # Makes the rename durable. Some platforms cannot open directories; there
    # the rename is as durable as the platform allows.
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, mode: int = PRIVATE_FILE_MODE) -> None:
    """Replace ``path`` with ``data`` atomically; the file has ``mode`` from its first byte on.

    A symlink at ``path`` is replaced by a regular file (the link is not
    followed): following it would let a link decide where a secret lands.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    ensure_private_dir(directory)
    tmp = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        try:
            # The umask can only have removed bits; set the exact mode while the
            # file is still empty (so no data is ever exposed under a wider mode).
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def atomic_write_text(path: str | os.PathLike[str], text: str, mode: int = PRIVATE_FILE_MODE) -> None:
    """UTF-8 text variant of :func:`atomic_write_bytes` (no newline translation)."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_json(path: str | os.PathLike[str], data: Any, mode: int = PRIVATE_FILE_MODE) -> None:
    """Write ``data`` as indented JSON (key order kept, so files diff cleanly between runs)."""
    atomic_write_text(path, indented_json(data) + "\n", mode)


class _NotPlain(Exception):
    """A key ``json`` would convert (not a string): :func:`indented_json` hands the value to ``json``."""


def indented_json(data: Any, *, ensure_ascii: bool = False) -> str:
    """``json.dumps(data, indent=2, ensure_ascii=ensure_ascii)``, the same text, built faster.

    Why: with ``indent`` the standard library gives up its C encoder for a pure-Python one
    made of nested closures that refer to each other, so every call is slow and leaves some
    50 objects that only the cyclic garbage collector can free. Writing one connection file per
    app made that the largest source of such garbage in a run (the CLI runs without that
    collector, see :mod:`provisioner.cli`). Here only the containers are laid out in Python;
    every key and leaf value goes through the C encoder. Data that is not plain JSON (a
    non-string key) is left to ``json`` itself. A circular structure is not detected.
    """
    encode = json.JSONEncoder(ensure_ascii=ensure_ascii).encode
    out: list[str] = []
    try:
        _layout(data, encode, out, "\n")
    except _NotPlain:
        return json.dumps(data, indent=2, ensure_ascii=ensure_ascii)
    return "".join(out)


def _layout(node: Any, encode: Any, out: list[str], newline: str) -> None:
    inner = newline + "  "
    if isinstance(node, dict) and node:
        separator = "{" + inner
        for key, value in node.items():
            if not isinstance(key, str):
                raise _NotPlain
            out.append(separator)
            out.append(encode(key))
            out.append(": ")
            _layout(value, encode, out, inner)
            separator = "," + inner
        out.append(newline + "}")
    elif isinstance(node, list | tuple) and node:
        separator = "[" + inner
        for value in node:
            out.append(separator)
            _layout(value, encode, out, inner)
            separator = "," + inner
        out.append(newline + "]")
    else:
        out.append(encode(node))
