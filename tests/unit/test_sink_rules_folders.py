"""Real paths with folders remembered: the same answers as ``os.path.realpath``, fewer ``lstat`` calls."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from provisioner.model import sink_rules
from provisioner.model.sink_rules import folders_remembered, outside_root, real_path, root_of

NAMES = ["a", "b", "c", "link", "loop", "f.json"]


def _tree(root: Path, links: list[tuple[str, str]]) -> None:
    """Folders a/b, a/c, a file, and symlinks (folder, file, dangling, ``..``, a loop) named by ``links``."""
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "c").mkdir()
    (root / "a" / "b" / "f.json").write_text("{}")
    for where, to in links:
        path = root / where
        if not path.parent.is_dir() or os.path.lexists(path):
            continue
        path.symlink_to(to)


link_spots = st.lists(
    st.tuples(
        st.sampled_from(["link", "a/link", "a/b/link", "a/c/loop", "a/b/g.json", "link2"]),
        st.sampled_from(["a", "a/b", "../a", "..", "a/b/f.json", "missing", "loop", "a/c/loop", "/"]),
    ),
    max_size=4,
)
paths = st.lists(st.sampled_from([*NAMES, "..", ".", "g.json", "link2", "missing"]), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(links=link_spots, parts=st.lists(paths, min_size=1, max_size=6))
@example(links=[("link", "a")], parts=[["b", "..", "link"]])  # a missing folder, then "..", then a link
def test_remembered_folders_answer_as_realpath(links: list[tuple[str, str]], parts: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _tree(root, links)
        candidates = [str(root.joinpath(*p)) for p in parts] + [str(root / "a" / "b" / "f.json"), str(root)]
        expected = [os.path.realpath(c) for c in candidates]
        with folders_remembered():
            got = [sink_rules._realpath(c) for c in candidates]
            again = [sink_rules._realpath(c) for c in candidates]  # answered from memory the second time
        assert got == expected
        assert again == expected


def test_a_symlink_at_the_file_itself_is_followed_inside_the_block(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    base = tmp_path / "base"
    (base / "out").mkdir(parents=True)
    with folders_remembered():
        assert not outside_root("out/app.json", base)  # the folder is now remembered
        (base / "out" / "app.json").symlink_to(outside / "stolen.json")
        assert outside_root("out/app.json", base)
        assert real_path("out/app.json", base) == outside / "stolen.json"


def test_each_folder_is_resolved_once_per_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "base"
    (base / "out").mkdir(parents=True)
    calls: list[str] = []
    real = os.path.realpath

    def counting(path: str) -> str:
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(sink_rules.os.path, "realpath", counting)
    with folders_remembered():
        for n in range(50):
            real_path(f"out/app-{n}.json", base)
            root_of(base)
    assert len(calls) == 2  # the folder "out" and the base folder's parent, each once
    calls.clear()
    for n in range(5):  # outside a block: one full resolution per call, as before
        real_path(f"out/app-{n}.json", base)
    assert len(calls) == 5


def test_a_link_behind_a_missing_folder_and_dotdot_is_still_followed(tmp_path: Path) -> None:
    """``out/missing/../app.json``: realpath drops ``missing`` lexically, so the link at app.json counts."""
    outside = tmp_path / "outside"
    outside.mkdir()
    base = tmp_path / "base"
    (base / "out").mkdir(parents=True)
    (base / "out" / "app.json").symlink_to(outside / "stolen.json")
    with folders_remembered():
        assert outside_root("out/missing/../app.json", base)
    assert outside_root("out/missing/../app.json", base)


def test_writable_problem_looks_at_each_folder_once_per_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preflight's folder walk (a missing folder climbs to an existing one) runs once per folder."""
    from provisioner.sinks import common

    looked: list[Path] = []
    walk = common._folder_problem

    def counted(folder: Path) -> str | None:
        looked.append(folder)
        return walk(folder)

    monkeypatch.setattr(common, "_folder_problem", counted)
    (tmp_path / "file").write_text("x")
    paths = [tmp_path / "missing" / "deeper" / f"app{i}.json" for i in range(30)]
    blocked = [tmp_path / "file" / f"app{i}.json" for i in range(30)]
    outside = [common.writable_problem(p) for p in [*paths, *blocked]]
    assert len(looked) == 60
    looked.clear()
    with folders_remembered():
        inside = [common.writable_problem(p) for p in [*paths, *blocked]]
    assert inside == outside
    assert outside[0] is None and outside[-1] == f"{tmp_path / 'file'} is a file, not a folder"
    assert looked == [tmp_path / "missing" / "deeper", tmp_path / "file"]
