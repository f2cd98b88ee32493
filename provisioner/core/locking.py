"""One apply at a time per state directory (an advisory file lock, like Terraform's state lock).

Why: two applies of the same manifests started at once (a double-clicked CI job,
two terminals) both read "secret missing", both mint, and both write the same
connection files: one minted secret is then held by nobody. Graph offers no
conditional ``addPassword``, so the tool serialises runs that share a state
directory: the second waits, then plans against what the first created and
finds nothing to do. Runs on different machines are not serialised; Graph's
uniqueName upsert and the consent helpers keep their objects single, and the
next run removes a secret nobody holds (:mod:`provisioner.engine.rotation`).

``flock`` locks die with their process, so a SIGKILLed apply never leaves a
stale lock behind. Where ``fcntl`` does not exist (Windows) runs are not
serialised.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_NAME = "apply.lock"


@contextlib.contextmanager
def apply_lock(state_dir: Path, progress: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the state directory's apply lock; wait (and say so) while another run holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            if progress:
                progress(f"waiting for another apply (pid {holder}) to finish with {state_dir}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
