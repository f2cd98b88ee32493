"""Emulator store reads: private copies for writers, shared read-only views for hot read paths."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from provisioner.emulator.store import FrozenDict, FrozenList, Store, freeze, thaw


def _store() -> Store:
    store = Store()
    store.put(
        "t", "servicePrincipals", {"id": "a", "appRoles": [{"id": "r", "value": "Mail.Read"}], "tags": []}
    )
    return store


def test_views_are_shared_and_refuse_changes() -> None:
    store = _store()
    view = store.view("t", "servicePrincipals", "a")
    assert view is store.view("t", "servicePrincipals", "a")  # no copy per read
    assert view is not None and isinstance(view, FrozenDict)
    with pytest.raises(TypeError, match="read-only view"):
        view["tags"] = ["x"]
    with pytest.raises(TypeError, match="read-only view"):
        view["appRoles"].append({})
    with pytest.raises(TypeError, match="read-only view"):
        view["appRoles"][0]["value"] = "changed"
    with pytest.raises(TypeError, match="read-only view"):
        view.setdefault("_owners", [])
    assert store.get("t", "servicePrincipals", "a") == {
        "id": "a",
        "appRoles": [{"id": "r", "value": "Mail.Read"}],
        "tags": [],
    }


def test_get_list_find_hand_out_private_mutable_copies() -> None:
    store = _store()
    mine = store.get("t", "servicePrincipals", "a")
    assert mine is not None and type(mine) is dict and type(mine["appRoles"]) is list
    mine["appRoles"][0]["value"] = "changed"
    mine["tags"].append("x")
    (listed,) = store.list("t", "servicePrincipals")
    (found,) = store.find("t", "servicePrincipals", id="a")
    assert listed["appRoles"][0]["value"] == found["appRoles"][0]["value"] == "Mail.Read"
    assert listed["tags"] == []


def test_put_freezes_a_copy_and_shares_frozen_parts() -> None:
    store = _store()
    view = store.view("t", "servicePrincipals", "a")
    assert view is not None
    updated = {**view, "tags": ["new"]}  # writers may build on a view: its frozen parts are shared
    store.put("t", "servicePrincipals", updated)
    updated["tags"].append("after put")  # the caller's object is not the stored one
    stored = store.view("t", "servicePrincipals", "a")
    assert stored is not None and stored["tags"] == ["new"]
    assert stored["appRoles"] is view["appRoles"]


def test_views_serialise_and_copy_like_plain_json() -> None:
    value = freeze({"a": [1, {"b": None}], "c": (1, 2)})
    assert isinstance(value["a"], FrozenList)
    assert json.loads(json.dumps(value)) == {"a": [1, {"b": None}], "c": [1, 2]}
    assert type(copy.deepcopy(value)) is dict and type(copy.copy(value)) is dict
    assert thaw(value) == {"a": [1, {"b": None}], "c": [1, 2]}
    assert {**value} == thaw(value)


def test_rollback_restores_the_previous_objects() -> None:
    store = _store()
    before = store.view("t", "servicePrincipals", "a")
    with pytest.raises(RuntimeError, match="handler failed half-way"), store.transaction():
        store.put("t", "servicePrincipals", {"id": "a", "appRoles": [], "tags": ["x"]})
        store.delete("t", "servicePrincipals", "a")
        raise RuntimeError("handler failed half-way")
    assert store.view("t", "servicePrincipals", "a") is before


def test_state_survives_a_restart_frozen(tmp_path: object) -> None:

    path = Path(str(tmp_path)) / "state.db"
    first = Store(path)
    first.put("t", "applications", {"id": "x", "tags": ["a"]})
    first.close()
    again = Store(path)
    view = again.view("t", "applications", "x")
    assert view == {"id": "x", "tags": ["a"]} and isinstance(view, FrozenDict)
    again.close()


# -- find_views through its indexes answers exactly what a scan of every object answers ---------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_IDS = st.sampled_from(["a", "b", "c", "d", "e"])
_VALUES = st.one_of(st.sampled_from(["x", "y", "X"]), st.none(), st.booleans(), st.just(["x"]))
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _IDS, _VALUES, _VALUES),
        st.tuples(st.just("delete"), _IDS, st.none(), st.none()),
        st.tuples(st.just("rollback"), _IDS, _VALUES, _VALUES),
        st.tuples(st.just("find"), _IDS, _VALUES, _VALUES),
    ),
    max_size=30,
)


class _Abort(Exception):
    pass


def _scan(store: Store, **equals: object) -> list[dict[str, object]]:
    return [o for o in store.views("t", "apps") if all(o.get(k) == v for k, v in equals.items())]


@settings(max_examples=150, deadline=None)
@given(_OPS)
def test_indexed_lookups_equal_a_full_scan_through_puts_deletes_and_rollbacks(ops: list[tuple]) -> None:
    store = Store()
    for op, oid, first, second in ops:
        body = {"id": oid, **({} if first is None else {"name": first}), "tier": second}
        if op == "put":
            store.put("t", "apps", body)
        elif op == "delete":
            store.delete("t", "apps", oid)
        elif op == "rollback":
            try:
                with store.transaction():
                    store.put("t", "apps", body)
                    store.delete("t", "apps", "a")
                    raise _Abort
            except _Abort:
                pass
        for equals in ({"name": first}, {"tier": second}, {"name": first, "tier": second}, {"id": oid}):
            assert store.find_views("t", "apps", **equals) == _scan(store, **equals), (op, equals)
