"""apply_lock: a private state directory, and one-line errors where the lock cannot be had."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from provisioner.core import locking
from provisioner.core.errors import ProvisionerError
from provisioner.core.locking import LOCK_NAME, apply_lock


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_state_dir_and_lock_file_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    state_dir = tmp_path / "a" / "b" / ".provisioner"
    old = os.umask(umask)
    try:
        with apply_lock(state_dir):
            pass
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", state_dir):
        assert _mode(folder) == 0o700, folder
    assert _mode(state_dir / LOCK_NAME) & 0o077 == 0


def test_an_existing_state_dir_keeps_its_mode(tmp_path: Path) -> None:
    state_dir = tmp_path / "shared"
    state_dir.mkdir(mode=0o750)
    os.chmod(state_dir, 0o750)
    with apply_lock(state_dir):
        pass
    assert _mode(state_dir) == 0o750  # the user's folder: the user's decision


def test_permission_denied_on_the_lock_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests run as root, where chmod denies nothing: the refusal is injected at os.open."""
    real_open = os.open

    def denying_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(path).endswith(LOCK_NAME):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(locking.os, "open", denying_open)
    with pytest.raises(ProvisionerError) as caught, apply_lock(tmp_path / "state"):
        raise AssertionError("the lock must not be taken")
    assert (
        str(caught.value)
        == f"cannot create the lock file {tmp_path / 'state' / LOCK_NAME}: Permission denied"
    )


def test_a_read_only_file_system_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(path: object, mode: int = 0o777) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(os, "mkdir", read_only)
    with pytest.raises(ProvisionerError) as caught, apply_lock(tmp_path / "new" / "state"):
        raise AssertionError("the lock must not be taken")
    assert str(caught.value) == (
        f"cannot create the state directory {tmp_path / 'new' / 'state'}: Read-only file system"
    )


def test_a_file_where_the_state_dir_should_be_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ProvisionerError) as caught, apply_lock(tmp_path / "file" / "state"):
        raise AssertionError("the lock must not be taken")
    assert (
        str(caught.value)
        == f"cannot create the state directory {tmp_path / 'file' / 'state'}: Not a directory"
    )
