"""core.layout: the tenant folder and the default connection file, remembered per run."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from provisioner.core.layout import (
    CONNECTIONS_DIR,
    TENANTS_DIR,
    TenantKey,
    default_sink_path,
    tenant_dir,
    tenant_scope,
)

_PART = st.sampled_from(["a", "b c", ".", "..", "", "x.y", ".provisioner"])
_STATE = st.builds(
    lambda absolute, parts, trail: ("/" if absolute else "") + "/".join(parts) + ("/" if trail else ""),
    st.booleans(),
    st.lists(_PART, min_size=1, max_size=4),
    st.booleans(),
).filter(lambda s: s not in ("", "/"))
_KEY = st.none() | st.builds(
    TenantKey, st.sampled_from(["emulator", "Public", "usgov"]), st.sampled_from(["T1", "a/b"])
)


def _as_before(state_dir: str, key: TenantKey | None) -> Path:
    """The definition this module had before it remembered anything (Path arithmetic)."""
    root = Path(state_dir).absolute()
    if key is None:
        return root
    cloud, tenant = key.parts
    return root / TENANTS_DIR / cloud / tenant


@settings(max_examples=200, deadline=None)
@given(state_dir=_STATE, key=_KEY, app=st.sampled_from(["app", "my app", "a.b"]))
@example(state_dir="x//y/", key=None, app="app")
@example(state_dir="/", key=TenantKey("emulator", "t"), app="app")
def test_same_paths_as_path_arithmetic(state_dir: str, key: TenantKey | None, app: str) -> None:
    assert tenant_dir(state_dir, key) == _as_before(state_dir, key)
    with tenant_scope(key):
        assert (
            default_sink_path(app, state_dir) == _as_before(state_dir, key) / CONNECTIONS_DIR / f"{app}.json"
        )


def test_a_relative_state_dir_follows_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Remembered per working directory: a run that changes folder gets the new folder's path."""
    key = TenantKey("emulator", "t")
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    first = tenant_dir(".provisioner", key)
    monkeypatch.chdir(tmp_path / "two")
    second = tenant_dir(".provisioner", key)
    assert first == tmp_path / "one" / ".provisioner" / TENANTS_DIR / "emulator" / "t"
    assert second == tmp_path / "two" / ".provisioner" / TENANTS_DIR / "emulator" / "t"


def test_the_default_sink_follows_the_tenant_state_dir_and_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Remembered per key: each input that decides the path changes the sink it answers."""
    from provisioner.model.manifest import App
    from provisioner.sinks.deliver import default_sink

    app = App.model_validate({"name": "app", "display_name": "App", "audience": "single-tenant"})
    one, two = TenantKey("emulator", "t1"), TenantKey("emulator", "t2")
    monkeypatch.chdir(tmp_path)
    with tenant_scope(one):
        first = default_sink(app, tmp_path)
        assert default_sink(app, tmp_path) is first  # remembered
        other_state = default_sink(app, tmp_path, "elsewhere")
    with tenant_scope(two):
        second = default_sink(app, tmp_path)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with tenant_scope(one):
        relative = default_sink(app, tmp_path, "rel")
    assert first.path == str(
        tmp_path / ".provisioner" / TENANTS_DIR / "emulator" / "t1" / CONNECTIONS_DIR / "app.json"
    )
    assert second.path == first.path.replace("/t1/", "/t2/")
    assert other_state.path == str(
        tmp_path / "elsewhere" / TENANTS_DIR / "emulator" / "t1" / CONNECTIONS_DIR / "app.json"
    )
    assert relative.path.startswith(str(tmp_path / "sub" / "rel" / TENANTS_DIR))
