"""Federated credential entries: the documented subjects, their inverse (export), and the CI example."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from provisioner.manifest.loader import load
from provisioner.model.federated import GITHUB_ISSUER, FederatedCredential, GithubActions

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("fields", "subject"),
    [
        ({"environment": "production"}, "repo:contoso/infra:environment:production"),
        ({"branch": "release/v1"}, "repo:contoso/infra:ref:refs/heads/release/v1"),
        ({"tag": "v1.2.3"}, "repo:contoso/infra:ref:refs/tags/v1.2.3"),
        ({"pull_request": True}, "repo:contoso/infra:pull_request"),
    ],
)
def test_github_subjects_round_trip(fields: dict[str, object], subject: str) -> None:
    entry = GithubActions.model_validate({"repository": "contoso/infra", **fields})
    assert entry.subject == subject
    assert GithubActions.from_subject(subject) == entry
    cred = FederatedCredential.model_validate({"name": "gh", "github": entry.model_dump()})
    assert (cred.resolved_issuer, cred.desired().audiences) == (
        GITHUB_ISSUER,
        ("api://AzureADTokenExchange",),
    )


def test_other_subjects_are_not_mistaken_for_github() -> None:
    assert GithubActions.from_subject("repo:contoso/infra:job_workflow_ref:x") is None
    assert GithubActions.from_subject("system:serviceaccount:a:b") is None


@pytest.mark.parametrize("name", ["", "-lead", "has space", "slash/name", "a" * 121, "colon:x"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        FederatedCredential.model_validate({"name": name, "issuer": "https://i.example", "subject": "s"})


def test_ci_example_stores_no_secret() -> None:
    folder = REPO / "examples" / "github-actions"
    (app,) = load([folder / "deployer.yaml"])
    (cred,) = app.app.federated_credentials or []
    assert cred.resolved_subject.endswith(":environment:entra-admin") and not app.app.secrets
    workflow = yaml.safe_load((folder / "apply.yml").read_text())
    assert workflow["permissions"]["id-token"] == "write"
    assert workflow["jobs"]["converge"]["environment"] == "entra-admin"
    assert "secrets." not in (folder / "apply.yml").read_text()


def _plan_for(want_creds: object, have_creds: list[object], tags: list[str]) -> list[tuple[str, str]]:
    from provisioner.engine.planner import make_plan
    from provisioner.model.desired import Desired, DesiredApp
    from provisioner.model.tenant import ExistingApp, ExistingSP, TenantState

    want = DesiredApp(
        name="a",
        display_name="A",
        sign_in_audience="AzureADMyOrg",
        federated_credentials=want_creds,  # type: ignore[arg-type]
    )
    have = ExistingApp(
        object_id="o",
        app_id="i",
        unique_name="a",
        display_name="A",
        sign_in_audience="AzureADMyOrg",
        tags=tags,
        service_principal=ExistingSP("s", "i"),
        federated_credentials=have_creds,  # type: ignore[arg-type]
    )
    state = TenantState(tenant_id="t", resources={}, apps={"a": have})
    plan = make_plan(Desired(apps={"a": want}, resources={}), state)
    return [(a.kind, a.details.get("name", "")) for a in plan.actions if "federated" in a.kind]


def test_a_renamed_credential_is_removed_before_its_successor_is_created() -> None:
    from provisioner.model.federated import ExistingFederated
    from provisioner.model.tenant import MANAGED_TAG

    gh = FederatedCredential.model_validate(
        {"name": "new", "github": {"repository": "o/r", "branch": "main"}}
    )
    old = ExistingFederated("id1", "old", GITHUB_ISSUER, gh.resolved_subject, ("api://AzureADTokenExchange",))
    assert _plan_for((gh.desired(),), [old], [MANAGED_TAG]) == [
        ("remove_federated_credential", "old"),
        ("create_federated_credential", "new"),
    ]
    # an adopted (unmarked) app keeps credentials it did not declare; a manifest without the key plans none
    assert _plan_for((gh.desired(),), [old], []) == [("create_federated_credential", "new")]
    assert _plan_for(None, [old], [MANAGED_TAG]) == []
    same = ExistingFederated(
        "id2", "new", GITHUB_ISSUER, gh.resolved_subject, ("api://AzureADTokenExchange",)
    )
    assert _plan_for((gh.desired(),), [same], [MANAGED_TAG]) == []
