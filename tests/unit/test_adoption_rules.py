"""Adoption rules and prune selection, pure: which registration a manifest entry takes over."""

from __future__ import annotations

import pytest

from provisioner.core.errors import ManifestError, ManifestErrors, ProvisionerError
from provisioner.engine.prune import prune_candidates
from provisioner.manifest.loader import load_text
from provisioner.model.adoption import adopted_by_name, check_unique, resolve, warnings
from provisioner.model.tenant import MANAGED_TAG, ExistingApp, TenantState


def existing(
    n: int, *, unique: str | None = None, name: str = "Shared", tags: list[str] | None = None
) -> ExistingApp:
    return ExistingApp(
        object_id=f"dddddddd-0000-0000-0000-00000000000{n}",
        app_id=f"cccccccc-0000-0000-0000-00000000000{n}",
        unique_name=unique,
        display_name=name,
        tags=tags or [],
    )


def loaded(text: str) -> list:
    items, errors = load_text(text, "apps.yaml")
    assert not errors, errors
    return items


BY_NAME = loaded("apps:\n  - name: shared\n    display_name: Shared\n    adopt: true\n")
BY_ID = loaded(
    "apps:\n  - name: pinned\n    display_name: Shared\n    app_id: cccccccc-0000-0000-0000-000000000002\n"
)


def test_adopt_by_name_picks_the_single_match() -> None:
    match = existing(1)
    assert resolve(BY_NAME[0], None, [match]) is match
    assert resolve(BY_NAME[0], None, []) is None  # nothing to adopt: apply creates it


def test_ambiguous_display_name_is_located_and_lists_candidates() -> None:
    with pytest.raises(ManifestError) as info:
        resolve(BY_NAME[0], None, [existing(2), existing(1)])
    text = str(info.value)
    assert text.startswith("apps.yaml:4:")  # the `adopt:` line
    assert "cccccccc-0000-0000-0000-000000000001 ('Shared')" in text
    assert "cccccccc-0000-0000-0000-000000000002 ('Shared')" in text and "set app_id" in text


def test_adopt_by_name_refuses_an_app_managed_under_another_name() -> None:
    with pytest.raises(ManifestError, match="use name: other"):
        resolve(BY_NAME[0], None, [existing(1, unique="other")])


def test_app_id_must_exist_and_agree_with_the_unique_name() -> None:
    with pytest.raises(ManifestError, match="no application with appId"):
        resolve(BY_ID[0], None, [])
    with pytest.raises(ManifestError, match="belongs to appId cccccccc-0000-0000-0000-000000000001"):
        resolve(BY_ID[0], existing(1, unique="pinned"), [])
    match = existing(2, unique="legacy name with spaces")
    assert resolve(BY_ID[0], None, [match]) is match  # explicit appId: taken over whatever its uniqueName


def test_bare_app_errors_are_one_line_without_location() -> None:
    with pytest.raises(ProvisionerError, match=r"^app shared: adopt: 2 applications"):
        resolve(BY_NAME[0].app, None, [existing(1), existing(2)])


def test_two_entries_cannot_own_one_registration() -> None:
    items = loaded(
        "apps:\n  - name: one\n    display_name: Shared\n    adopt: true\n"
        "  - name: two\n    display_name: Other\n    app_id: cccccccc-0000-0000-0000-000000000001\n"
    )
    same = existing(1)
    with pytest.raises(ManifestErrors) as info:
        check_unique(items, {"one": same, "two": same})
    assert "apps.yaml:7" in str(info.value) and "same registration as app 'one'" in str(info.value)


def test_warning_recommends_app_id_only_for_adoption_by_name() -> None:
    match = existing(1)
    state = TenantState(tenant_id=None, resources={}, apps={"shared": match})
    (warning,) = warnings(BY_NAME, state)
    assert f"app_id: {match.app_id}" in str(warning) and str(warning).startswith("apps.yaml:4")
    assert adopted_by_name(BY_NAME[0].app, match)
    assert not warnings(BY_ID, TenantState(tenant_id=None, resources={}, apps={"pinned": existing(2)}))


def test_prune_candidates_are_managed_and_undeclared() -> None:
    items = loaded("apps:\n  - name: keep\n    display_name: Keep\n")
    adopted = existing(3, name="Adopted", tags=[MANAGED_TAG])
    state = TenantState(tenant_id=None, resources={}, apps={"keep": adopted})
    managed = [
        existing(1, unique="keep", tags=[MANAGED_TAG]),  # declared by name
        adopted,  # declared through adoption
        existing(4, unique="gone", tags=[MANAGED_TAG]),
        existing(5, unique="me", tags=[MANAGED_TAG]),  # the credential's own app
    ]
    found = prune_candidates(managed, items, state, self_app_id="cccccccc-0000-0000-0000-000000000005")
    assert [a.unique_name for a in found] == ["gone"]
