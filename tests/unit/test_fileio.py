"""atomic_write_*: private from the first byte, all-or-nothing, no temp files left behind."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.core import fileio
from provisioner.core.fileio import atomic_write_json, atomic_write_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_writes_text_with_mode_0600(tmp_path: Path) -> None:
    target = tmp_path / "conn.env"
    atomic_write_text(target, "A=1\n")
    assert target.read_text() == "A=1\n"
    assert _mode(target) == 0o600
    assert _leftovers(tmp_path) == []


def test_mode_is_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        atomic_write_text(tmp_path / "f", "x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "f") == 0o600


def test_file_is_private_before_any_data_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the first write the file already has mode 0600, and nothing chmods it afterwards."""
    events: list[tuple[str, int]] = []
    real_write, real_fchmod, real_chmod = os.write, os.fchmod, os.chmod

    def spy_write(fd: int, data: bytes) -> int:
        events.append(("write", stat.S_IMODE(os.fstat(fd).st_mode)))
        return real_write(fd, data)

    def spy_fchmod(fd: int, mode: int) -> None:
        events.append(("fchmod", mode))
        real_fchmod(fd, mode)

    def no_chmod(*args: object, **kwargs: object) -> None:
        raise AssertionError("chmod by path is never needed")

    monkeypatch.setattr(os, "write", spy_write)
    monkeypatch.setattr(os, "fchmod", spy_fchmod)
    monkeypatch.setattr(os, "chmod", no_chmod)
    old = os.umask(0)
    try:
        atomic_write_text(tmp_path / "secret.json", "s3cret")
    finally:
        os.umask(old)
        monkeypatch.setattr(os, "chmod", real_chmod)
    writes = [mode for kind, mode in events if kind == "write"]
    assert writes and all(mode == 0o600 for mode in writes)
    first_write = next(i for i, (kind, _) in enumerate(events) if kind == "write")
    assert all(kind == "write" for kind, _ in events[first_write:]), "no mode change after data is written"


def test_replacing_a_world_readable_file_makes_it_private(tmp_path: Path) -> None:
    target = tmp_path / "old.env"
    target.write_text("old")
    target.chmod(0o644)
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert _mode(target) == 0o600


def test_failed_replace_keeps_old_content_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "conn.json"
    target.write_text("old content")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(target, "new content")
    assert target.read_text() == "old content"
    assert _leftovers(tmp_path) == []


def test_failed_write_keeps_old_content_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "conn.json"
    target.write_text("old content")
    real_write = os.write
    calls = {"n": 0}

    def half_then_fail(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[:3]))  # a short write, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_fail)
    with pytest.raises(OSError, match="No space left on device"):
        atomic_write_text(target, "new content that is long")
    assert target.read_text() == "old content"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("refused", ["create", "rename"])
def test_read_only_directory_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: str
) -> None:
    """A directory the user may not write to refuses the temporary file (create) or the rename over the
    target (e.g. a sticky directory): the PermissionError surfaces, the old file stays, no temp is left.
    Injected rather than chmod-ed, so it runs as root too (root ignores directory permissions)."""
    directory = tmp_path / "ro"
    directory.mkdir()
    target = directory / "conn.json"
    target.write_text("old")
    real_open, real_replace = os.open, os.replace
    attempts: list[str] = []

    def open_refusing_new_files(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if refused == "create" and flags & os.O_CREAT:
            attempts.append("create")
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    def replace_refused(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if refused == "rename":
            attempts.append("rename")
            assert Path(src).read_text() == "new"  # the temporary file was complete
            raise PermissionError(13, "Permission denied", str(dst))
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_refusing_new_files)
    monkeypatch.setattr(os, "replace", replace_refused)
    with pytest.raises(PermissionError, match="Permission denied"):
        atomic_write_text(target, "new")
    assert attempts == [refused]
    assert target.read_text() == "old"
    assert _leftovers(directory) == []


def test_missing_parents_are_created_private(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c" / "conn.json"
    atomic_write_text(target, "x")
    for directory in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert _mode(directory) == 0o700


def test_existing_parent_mode_is_left_alone(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o755)
    atomic_write_text(directory / "f", "x")
    assert _mode(directory) == 0o755


def test_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched")
    link = tmp_path / "link.env"
    link.symlink_to(elsewhere)
    atomic_write_text(link, "secret")
    assert elsewhere.read_text() == "untouched"
    assert not link.is_symlink()
    assert link.read_text() == "secret"


def test_atomic_write_json_round_trips(tmp_path: Path) -> None:
    data = {"b": 1, "a": ["x", "ü"], "nested": {"k": None}}
    atomic_write_json(tmp_path / "d.json", data)
    text = (tmp_path / "d.json").read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert json.loads(text) == data
    assert list(json.loads(text)) == ["b", "a", "nested"]  # key order kept
    assert _mode(tmp_path / "d.json") == 0o600


def test_custom_mode_is_exact(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "pub", "x", mode=0o640)
    assert _mode(tmp_path / "pub") == 0o640


@settings(max_examples=25, deadline=None)
@given(text=st.text())
def test_any_text_round_trips(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    target = tmp_path_factory.mktemp("rt") / "f.txt"
    atomic_write_text(target, text)
    assert target.read_bytes() == text.encode("utf-8")


def test_ensure_private_dir_is_idempotent(tmp_path: Path) -> None:
    fileio.ensure_private_dir(tmp_path / "x")
    fileio.ensure_private_dir(tmp_path / "x")
    assert _mode(tmp_path / "x") == 0o700


def test_deferred_directory_syncs_sync_each_folder_once_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    monkeypatch.setattr(fileio, "_fsync_directory_now", synced.append)
    with fileio.directory_syncs_deferred():
        for index in range(5):
            fileio.atomic_write_text(tmp_path / "a" / f"{index}.json", "{}")
            fileio.atomic_write_text(tmp_path / "b" / f"{index}.env", "X=1\n")
        assert synced == []  # nothing yet: the renames are synced when the block ends
    assert sorted(synced) == [tmp_path / "a", tmp_path / "b"]
    fileio.atomic_write_text(tmp_path / "a" / "later.json", "{}")  # outside the block: synced at once
    assert synced[-1] == tmp_path / "a" and len(synced) == 3


def test_deferred_directory_syncs_happen_even_when_the_block_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    monkeypatch.setattr(fileio, "_fsync_directory_now", synced.append)
    with pytest.raises(RuntimeError), fileio.directory_syncs_deferred():
        fileio.atomic_write_text(tmp_path / "x.json", "{}")
        raise RuntimeError("a sink failed")
    assert synced == [tmp_path]


_JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(data=_JSON, ensure_ascii=st.booleans())
def test_indented_json_is_what_json_dumps_writes(data: Any, ensure_ascii: bool) -> None:
    """The fast layout is the standard library's ``indent=2`` text, character for character."""
    expected = json.dumps(data, indent=2, ensure_ascii=ensure_ascii)
    assert fileio.indented_json(data, ensure_ascii=ensure_ascii) == expected


@pytest.mark.parametrize(
    "data",
    [{1: "a", "b": [1, {}]}, {"nested": {None: 1}}, [{True: 2.5}], {}, [], "x", {"k": []}],
)
def test_indented_json_fixed_cases(data: Any) -> None:
    """Keys ``json`` converts (numbers, booleans, null) and empty containers, anywhere in the value."""
    assert fileio.indented_json(data) == json.dumps(data, indent=2, ensure_ascii=False)


def test_indented_json_leaves_no_cyclic_garbage() -> None:
    """The reason it exists: ``json.dumps(indent=...)`` leaves reference cycles on every call."""
    import gc

    values = {"client_id": "x", "scopes": ["a", "b"], "nested": {"k": [1, 2.5, None]}}
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(50):
            fileio.indented_json(values)
        assert gc.collect() == 0
        for _ in range(50):
            json.dumps(values, indent=2)
        assert gc.collect() > 0  # the control: the standard library's indented encoder does leave cycles
    finally:
        if enabled:
            gc.enable()
