"""The provisioner's own Graph permissions: the minimal set per feature, proven with least-privileged callers.

One test per row of the table in docs/reliability.md: a caller holding exactly
the row's permissions succeeds, a caller missing the row's addition fails with
a one-line error naming it. Credential failures (wrong/expired secret, unknown
tenant or client) end in one actionable line, and ``provisioner doctor``
reports what a credential lacks for given manifests.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from reliability_support import admin_http, cli_env, fresh_tenant, make_caller, run_cli, target_for

from provisioner.core.errors import CredentialError, ProvisionerError

OWNED = "Application.ReadWrite.OwnedBy"
DELEGATED_GRANTS = "DelegatedPermissionGrant.ReadWrite.All"
ROLE_ASSIGNMENTS = "AppRoleAssignment.ReadWrite.All"


def manifest(tmp_path: Path, body: str) -> tuple[Path, str]:
    name = f"lp-{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"version: 1\napps:\n  - name: {name}\n    display_name: Least privilege {name}\n{body}")
    return path, name


NO_CONSENT = """    permissions:
      Microsoft Graph:
        delegated: [User.Read, Mail.Read]
    secrets:
      - name: s
"""
DELEGATED_CONSENT = """    permissions:
      Microsoft Graph:
        delegated: [User.Read, Mail.Read]
    admin_consent: true
"""
APPLICATION_CONSENT = """    permissions:
      Microsoft Graph:
        application: [Mail.Send]
    admin_consent: true
"""


def apply_as(target: Any, path: Path, tmp_path: Path) -> Any:
    from provisioner.engine.loading import load_manifests
    from provisioner.engine.options import RunOptions
    from provisioner.engine.workflow import apply_in

    loaded, _ = load_manifests([str(path)])
    options = RunOptions(state_dir=tmp_path / ".provisioner", base_dir=tmp_path)
    return asyncio.run(apply_in(target, loaded, options, lambda plan: True))


def plan_as(target: Any, path: Path, tmp_path: Path) -> Any:
    from provisioner.engine.loading import load_manifests
    from provisioner.engine.options import RunOptions
    from provisioner.engine.workflow import plan_in

    loaded, _ = load_manifests([str(path)])
    options = RunOptions(state_dir=tmp_path / ".provisioner", base_dir=tmp_path)
    return asyncio.run(plan_in(target, loaded, options, []))


@pytest.fixture(scope="module")
def tenant(emulator: Any) -> Any:
    return fresh_tenant(emulator)


# ---------------------------------------------------------------- one test per table row


def test_row_plan_needs_only_application_read_all(emulator: Any, tenant: Any, tmp_path: Path) -> None:
    caller = make_caller(emulator, tenant, ["Application.Read.All"])
    path, _ = manifest(tmp_path, APPLICATION_CONSENT)
    pending = plan_as(target_for(emulator, tenant, caller), path, tmp_path)
    assert {a.kind for a in pending.actions} >= {"create_app", "create_service_principal", "assign_app_role"}


def test_row_no_permission_cannot_even_plan(emulator: Any, tenant: Any, tmp_path: Path) -> None:
    caller = make_caller(emulator, tenant, [])
    path, _ = manifest(tmp_path, NO_CONSENT)
    with pytest.raises(ProvisionerError) as failure:
        plan_as(target_for(emulator, tenant, caller), path, tmp_path)
    message = str(failure.value)
    assert "403" in message and "\n" not in message
    assert "lacks Application.Read.All (or Application.ReadWrite.OwnedBy)" in message


def test_row_owned_by_creates_and_updates_its_own_apps(emulator: Any, tenant: Any, tmp_path: Path) -> None:
    caller = make_caller(emulator, tenant, [OWNED])
    target = target_for(emulator, tenant, caller)
    path, _ = manifest(tmp_path, NO_CONSENT)
    assert apply_as(target, path, tmp_path).actions_done > 0
    path.write_text(path.read_text().replace("display_name: Least privilege", "display_name: Renamed"))
    assert apply_as(target, path, tmp_path).actions_done == 1  # update + secret management on its own app
    assert plan_as(target, path, tmp_path).is_empty


def test_row_read_only_caller_is_told_what_creating_needs(emulator: Any, tenant: Any, tmp_path: Path) -> None:
    caller = make_caller(emulator, tenant, ["Application.Read.All"])
    path, _ = manifest(tmp_path, NO_CONSENT)
    with pytest.raises(ProvisionerError) as failure:
        apply_as(target_for(emulator, tenant, caller), path, tmp_path)
    assert (
        "the caller lacks Application.ReadWrite.All (or Application.ReadWrite.OwnedBy) needed to create applications"
        in str(failure.value)
    )


@pytest.mark.parametrize(
    ("body", "lacking", "needed_for", "missing", "granted"),
    [
        pytest.param(
            DELEGATED_CONSENT,
            DELEGATED_GRANTS,
            "delegated permissions",
            [OWNED],
            [OWNED, DELEGATED_GRANTS],
            id="delegated_needs_delegated_permission_grant",
        ),
        pytest.param(
            APPLICATION_CONSENT,
            ROLE_ASSIGNMENTS,
            "application permissions",
            [OWNED, DELEGATED_GRANTS],
            [OWNED, ROLE_ASSIGNMENTS],
            id="application_needs_app_role_assignment",
        ),
    ],
)
def test_row_admin_consent_needs_its_grant_permission(
    emulator: Any,
    tenant: Any,
    tmp_path: Path,
    body: str,
    lacking: str,
    needed_for: str,
    missing: list[str],
    granted: list[str],
) -> None:
    """Admin consent fails with the one permission it lacks named, then succeeds once that is granted."""
    path, _ = manifest(tmp_path, body)
    without = target_for(emulator, tenant, make_caller(emulator, tenant, missing))
    with pytest.raises(ProvisionerError) as failure:
        apply_as(without, path, tmp_path)
    assert f"the caller lacks {lacking} needed to grant admin consent for {needed_for}" in str(failure.value)
    with_grant = target_for(emulator, tenant, make_caller(emulator, tenant, granted))
    path2, _ = manifest(tmp_path, body)
    apply_as(with_grant, path2, tmp_path)
    assert plan_as(with_grant, path2, tmp_path).is_empty


def test_row_adopting_a_registration_needs_application_readwrite_all(
    emulator: Any, tenant: Any, tmp_path: Path
) -> None:
    with admin_http(emulator, tenant) as admin:  # a registration someone else made
        existing = admin.post("/applications", json={"displayName": f"Legacy {uuid.uuid4().hex[:6]}"}).json()
    path, _ = manifest(tmp_path, f"    app_id: {existing['appId']}\n")
    owned_only = target_for(emulator, tenant, make_caller(emulator, tenant, [OWNED]))
    with pytest.raises(ProvisionerError) as failure:
        apply_as(owned_only, path, tmp_path)
    assert "403" in str(failure.value) and "Application.ReadWrite.All" in str(failure.value)
    full = target_for(emulator, tenant, make_caller(emulator, tenant, ["Application.ReadWrite.All"]))
    apply_as(full, path, tmp_path)
    assert plan_as(full, path, tmp_path).is_empty


# ---------------------------------------------------------------- credentials


def _connect(target: Any) -> None:
    from provisioner.graph.connect import graph_client

    async def run() -> None:
        async with graph_client(target):
            pass

    asyncio.run(run())


def test_wrong_secret_is_one_actionable_line(emulator: Any, tenant: Any) -> None:
    target = target_for(emulator, tenant)
    target.client_secret = "not-the-secret"
    with pytest.raises(CredentialError) as failure:
        _connect(target)
    message = str(failure.value)
    assert "AADSTS7000215" in message and "AZURE_CLIENT_SECRET" in message and "\n" not in message
    assert "not-the-secret" not in message


def test_expired_secret_is_one_actionable_line(tmp_emulator: Any) -> None:
    from datetime import UTC, datetime, timedelta

    tenant = tmp_emulator.tenant
    caller = make_caller(tmp_emulator, tenant, [OWNED])
    with admin_http(tmp_emulator, tenant) as admin:
        app = admin.get("/applications", params={"$filter": f"appId eq '{caller.client_id}'"}).json()[
            "value"
        ][0]
        end = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        short = admin.post(
            f"/applications/{app['id']}/addPassword", json={"passwordCredential": {"endDateTime": end}}
        ).json()
    tmp_emulator.ctx.clock.advance(2 * 3600)
    target = target_for(tmp_emulator, tenant, caller)
    target.client_secret = short["secretText"]
    with pytest.raises(CredentialError, match=r"AADSTS7000222.*create a new client secret"):
        _connect(target)


def test_unknown_tenant_and_unknown_client(emulator: Any, tenant: Any) -> None:
    target = target_for(emulator, tenant)
    target.tenant_id = str(uuid.uuid4())
    with pytest.raises(CredentialError, match=r"AADSTS90002: tenant not found\): check --tenant"):
        _connect(target)
    target = target_for(emulator, tenant)
    target.client_id = str(uuid.uuid4())
    with pytest.raises(CredentialError, match=r"AADSTS700016"):
        _connect(target)


# ---------------------------------------------------------------- doctor


def _doctor(args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    from typer.testing import CliRunner

    from provisioner.cli import app

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return CliRunner().invoke(app, ["doctor", *args])


def test_doctor_lists_what_a_least_privileged_caller_lacks(
    emulator: Any, tenant: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = make_caller(emulator, tenant, [OWNED])
    delegated, _ = manifest(tmp_path, DELEGATED_CONSENT)
    application, _ = manifest(tmp_path, APPLICATION_CONSENT)
    env = cli_env(emulator, tenant, caller)
    result = _doctor([str(delegated), str(application), "--json"], env, monkeypatch)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert [m["permission"] for m in report["missing"]] == [DELEGATED_GRANTS, ROLE_ASSIGNMENTS]
    assert report["caller"]["permissions"] == [OWNED] and report["caller"]["app_id"] == caller.client_id
    assert report["least_privileged_set"] == [OWNED, DELEGATED_GRANTS, ROLE_ASSIGNMENTS]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: the caller lacks {DELEGATED_GRANTS} needed to grant admin consent for delegated permissions",
        f"error: the caller lacks {ROLE_ASSIGNMENTS} needed to grant admin consent for application permissions",
    ]


def test_doctor_passes_and_notes_broader_than_needed(
    emulator: Any, tenant: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = manifest(tmp_path, NO_CONSENT)
    result = _doctor([str(path)], cli_env(emulator, tenant), monkeypatch)  # the bootstrap admin
    assert result.exit_code == 0, result.output
    assert "least-privileged set for these manifests: Application.ReadWrite.OwnedBy" in result.stdout
    assert "note Application.ReadWrite.All is broader than needed" in result.stdout


def test_doctor_reports_a_bad_credential(
    emulator: Any, tenant: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = cli_env(emulator, tenant) | {"AZURE_CLIENT_SECRET": "wrong"}
    result = _doctor([], env, monkeypatch)
    assert result.exit_code == 1
    assert "FAIL credential: credential failed (AADSTS7000215: invalid client secret)" in result.stdout


def test_cli_prints_exactly_one_line_for_a_wrong_secret(emulator: Any, tenant: Any, tmp_path: Path) -> None:
    """Through the real CLI: azure-identity's own warning log must not add the raw endpoint answer."""
    (tmp_path / "m.yaml").write_text("apps:\n  - name: one-line\n    display_name: One line\n")
    env = cli_env(emulator, tenant, AZURE_CLIENT_SECRET="not-the-secret")
    proc = run_cli("plan", "m.yaml", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: credential failed (AADSTS7000215: invalid client secret): use the secret's value "
        "(not its ID); update AZURE_CLIENT_SECRET"
    ], proc.stderr
    assert "not-the-secret" not in proc.stderr + proc.stdout
