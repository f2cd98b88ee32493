"""One writing run at a time per state directory (an advisory file lock, like Terraform's state lock).

Why: two applies of the same manifests started at once (a double-clicked CI job,
two terminals) both read "secret missing", both mint, and both write the same
connection files: one minted secret is then held by nobody. Graph offers no
conditional ``addPassword``, so the tool serialises runs that share a state
directory: the second waits, then plans against what the first created and
finds nothing to do. Runs on different machines are not serialised; Graph's
uniqueName upsert and the consent helpers keep their objects single, and the
next run removes a secret nobody holds (:mod:`provisioner.engine.rotation`).

Every command that writes (apply, rotate, destroy, restore) holds it: a destroy
racing a rotate would otherwise delete an app while the rotate delivers its new
secret, or restore one while an apply re-creates it.

``flock`` locks die with their process, so a SIGKILLed apply never leaves a
stale lock behind. Where ``fcntl`` does not exist (Windows) runs are not
serialised. A state directory or lock file that cannot be created (read-only
folder, a file where the folder should be) is a one-line :class:`ProvisionerError`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from provisioner.core.errors import ProvisionerError
from provisioner.core.fileio import ensure_private_dir

LOCK_NAME = "apply.lock"


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


@contextlib.contextmanager
def apply_lock(state_dir: Path, progress: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the state directory's lock; wait (and say so) while another run holds it.

    Creates the state directory (0700) if missing. Raises :class:`ProvisionerError`
    (one line naming the path) when the directory or the lock file cannot be created.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:
        ensure_private_dir(state_dir)
    except OSError as exc:
        raise ProvisionerError(f"cannot create the state directory {state_dir}: {_why(exc)}") from None
    path = state_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise ProvisionerError(f"cannot create the lock file {path}: {_why(exc)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            if progress:
                progress(f"waiting for another run (pid {holder}) to finish with {state_dir}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:  # e.g. a file system without locks
            raise ProvisionerError(f"cannot lock {path}: {_why(exc)}") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid is only a hint for whoever waits; the lock itself is held
        yield
    finally:
        os.close(fd)  # releases the lock
