"""Files and folders the emulator creates are private to its user, whatever the umask.

The state database holds every tenant's bootstrap admin secret and the token
signing key; the TLS folder holds the CA's and the server's private keys. So
folders the emulator creates are 0700 and files it writes 0600, set explicitly
(``chmod``) rather than left to the process umask. Folders that already existed
are the owner's business and are left as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """Create ``path`` and any missing parents as 0700; an existing folder is left untouched."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:
            continue  # created concurrently (another emulator on the same folder): not ours to change
        os.chmod(folder, DIRECTORY_MODE)
    return path


def create_private_file(path: Path) -> bool:
    """Create an empty 0600 file unless one exists; True if this call created it."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def write_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data`` in a 0600 file (a reader never sees half of it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), FILE_MODE)  # also when a stale temporary file with another mode was reused
        fh.write(data)
    os.replace(tmp, path)
