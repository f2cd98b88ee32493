"""Every file and folder the emulator creates is private to its user (0600/0700), whatever the umask."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from provisioner.emulator import start_emulator
from provisioner.emulator.seed import ensure_tenant
from provisioner.emulator.store import Store
from provisioner.emulator.tls import ensure_tls_files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def test_state_and_tls_files_are_private_under_umask_0(tmp_path: Path) -> None:
    state = tmp_path / "made" / "by-emulator" / "emulator.db"
    with _umask(0), start_emulator(state_path=state) as running:
        tls_dir = running.data_dir
        ensure_tenant(running.ctx, str(uuid.uuid4()))  # one more write while SQLite runs in WAL mode
        created_dirs = [tmp_path / "made", tmp_path / "made" / "by-emulator", tls_dir]
        assert {d: _mode(d) for d in created_dirs} == {d: 0o700 for d in created_dirs}
        files = [state, *state.parent.glob("emulator.db-*"), *tls_dir.iterdir()]
        assert len(files) >= 1 + 4 and any(f.name.endswith("-wal") for f in files)
        assert {f: _mode(f) for f in files} == {f: 0o600 for f in files}


def test_tls_files_are_rewritten_private_under_umask_0(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    with _umask(0):
        files = ensure_tls_files(folder)
        files.server_cert.unlink()  # forces a re-issue of the server certificate
        ensure_tls_files(folder)
    assert _mode(folder) == 0o700
    assert {p.name: _mode(p) for p in folder.iterdir()} == {p.name: 0o600 for p in folder.iterdir()}


def test_existing_folders_are_left_as_they_are(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    with _umask(0):
        store = Store(shared / "emulator.db")
        store.close()
    assert _mode(shared) == 0o755 and _mode(shared / "emulator.db") == 0o600
