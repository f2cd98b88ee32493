"""Issue 17: user and group assignment, through the real CLI against the emulator.

One tenant and one manifest for the whole story (apply is the expensive part): an app that
requires assignment, one user assigned directly and one through a group. Then the people play
it: the authorization-code flow on the emulator's sign-in page for an assigned user, a group
member and an unassigned user (AADSTS50105), a refresh token refused once the assignment is
gone; drift planned and converged; export round-trips; taking an assignment away needs --yes.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import base_env, connection_file, ok, run_cli, tenant_env
from oauth_support import forms
from reliability_support import admin_http, fresh_tenant

REDIRECT = "http://localhost:9999/callback"
GROUP = "Assignment Testers"

MANIFEST = """version: 1
apps:
  - name: assigned-app
    display_name: Assigned app
    redirect_uris:
      web: [{redirect}]
    permissions:
      Microsoft Graph:
        delegated: [User.Read]
    admin_consent: true
    secrets:
      - name: main
    assignment_required: true
    assigned_users: [{users}]
    assigned_groups: [{groups}]
    owners: [{owners}]
"""


def write_manifest(folder: Path, *, users: str, groups: str, owners: str = "") -> None:
    (folder / "manifests").mkdir(exist_ok=True)
    (folder / "manifests" / "app.yaml").write_text(
        MANIFEST.format(redirect=REDIRECT, users=users, groups=groups, owners=owners)
    )


class World:
    """The tenant, its people, and the app's emitted connection values (loopback HTTPS only)."""

    def __init__(self, emulator: Any, folder: Path) -> None:
        from provisioner.emulator.graph.users import models as users

        self.emulator = emulator
        self.folder = folder
        self.tenant = fresh_tenant(emulator)
        domain = self.tenant.domain
        self.assigned = f"user@{domain}"
        self.unassigned = f"admin@{domain}"
        self.member = f"member@{domain}"
        # a third user (the emulator has no POST /users): seeded in-process, as the tenant's own users are
        member = users.new_user(emulator.ctx, self.member, "Group Member", "Group", "Member")
        emulator.ctx.store.put(self.tenant.tenant_id, users.KIND, member)
        self.graph = admin_http(emulator, self.tenant)
        created = self.graph.post(
            "/groups",
            json={
                "displayName": GROUP,
                "mailEnabled": False,
                "mailNickname": "assignment-testers",
                "securityEnabled": True,
                "members@odata.bind": [f"{emulator.graph_url}/directoryObjects/{member['id']}"],
            },
        )
        assert created.status_code == 201, created.text
        self.group_id = created.json()["id"]
        self.env = {**base_env(), **tenant_env(emulator, self.tenant), "NO_PROXY": "localhost,127.0.0.1"}
        self.http = httpx.Client(verify=str(emulator.ca_cert_path), trust_env=False, timeout=60)
        self.values: dict[str, Any] = {}

    def cli(self, *args: str) -> Any:
        return run_cli(*args, "--state-dir", "state", cwd=self.folder, env=self.env)

    def load_values(self) -> None:
        self.values = json.loads(connection_file(self.folder / "state", "assigned-app").read_text())

    def sp(self) -> dict[str, Any]:
        found = self.graph.get(f"/servicePrincipals(appId='{self.values['client_id']}')")
        assert found.status_code == 200, found.text
        return dict(found.json())

    def assigned_to(self) -> dict[str, str]:
        """principal display name -> assignment id, on the app's service principal."""
        answer = self.graph.get(f"/servicePrincipals/{self.sp()['id']}/appRoleAssignedTo")
        assert answer.status_code == 200, answer.text
        return {a["principalDisplayName"]: a["id"] for a in answer.json()["value"]}

    def owners(self) -> dict[str, str]:
        """The app's owners as Graph lists them: id -> @odata.type."""
        answer = self.graph.get(f"/applications(appId='{self.values['client_id']}')/owners")
        assert answer.status_code == 200, answer.text
        return {o["id"]: o["@odata.type"] for o in answer.json()["value"]}

    def sign_in(self, upn: str) -> dict[str, str]:
        """Authorization code on the emulator's page as ``upn``: the redirect's query (not followed)."""
        params = {
            "client_id": self.values["client_id"],
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "scope": "openid offline_access https://graph.microsoft.com/User.Read",
            "state": secrets.token_urlsafe(8),
        }
        url = str(httpx.URL(self.values["authorization_url"], params=params))
        self.http.cookies.clear()  # a new browser: no single sign-on from the previous person
        page = self.http.get(url)
        assert page.status_code == 200, page.text[:500]
        signin = forms(page.text)["signin"]
        button = next(b for b in signin["buttons"] if b.get("data-upn") == upn)
        answer = self.http.post(
            httpx.URL(url).join(signin["action"]), data={**signin["fields"], "user": button["value"]}
        )
        consent = forms(answer.text).get("consent") if answer.status_code == 200 else None
        if consent is not None:  # the user's own consent to openid/offline_access
            answer = self.http.post(
                httpx.URL(url).join(consent["action"]), data={**consent["fields"], "decision": "accept"}
            )
        assert answer.status_code == 302, answer.text[:500]
        location = httpx.URL(answer.headers["location"])
        assert str(location).startswith(REDIRECT), location
        return dict(location.params)

    def redeem(self, form: dict[str, str]) -> httpx.Response:
        base = {"client_id": self.values["client_id"], "client_secret": self.values["client_secret"]}
        return self.http.post(self.values["token_url"], data={**base, **form})

    def code_token(self, upn: str) -> dict[str, Any]:
        back = self.sign_in(upn)
        assert back.get("code"), back
        answer = self.redeem(
            {"grant_type": "authorization_code", "code": back["code"], "redirect_uri": REDIRECT}
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


@pytest.mark.slow
def test_assignment_required_users_and_groups_apply_sign_in_drift_export_and_removal(
    emulator: Any, tmp_path: Path
) -> None:
    world = World(emulator, tmp_path)
    write_manifest(tmp_path, users=world.assigned, groups=GROUP, owners=world.member)

    # -- apply creates the service principal requiring assignment, both assignments and the owner
    planned = ok(world.cli("plan", "manifests"), 0, 2)
    assert f"assign user {world.assigned} (default access)" in planned.stdout
    assert f"assign group {GROUP} (default access)" in planned.stdout
    assert f"add owner {world.member}" in planned.stdout
    ok(world.cli("apply", "manifests", "--yes"))
    world.load_values()
    assert world.sp()["appRoleAssignmentRequired"] is True
    assert set(world.assigned_to()) == {"Emulator User", GROUP}
    owners = world.owners()
    member_id = next(i for i, t in owners.items() if t == "#microsoft.graph.user")
    assert list(owners.values()).count("#microsoft.graph.user") == 1, owners
    assert "No changes" in ok(world.cli("plan", "manifests", "--detailed-exitcode")).stdout

    # -- the people: assigned directly, through the group, and not at all
    direct = world.code_token(world.assigned)
    assert direct["access_token"] and direct["refresh_token"]
    assert world.code_token(world.member)["access_token"]
    refused = world.sign_in(world.unassigned)
    assert refused.get("error") == "access_denied" and "code" not in refused, refused
    assert refused["error_description"].startswith("AADSTS50105:"), refused

    # -- drift: the user's assignment removed out of band; the user's refresh token stops working
    removed = world.graph.delete(
        f"/servicePrincipals/{world.sp()['id']}/appRoleAssignedTo/{world.assigned_to()['Emulator User']}"
    )
    assert removed.status_code == 204, removed.text
    again = world.redeem({"grant_type": "refresh_token", "refresh_token": direct["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant", again.text
    assert again.json()["error_codes"] == [50105], again.text
    drift = ok(world.cli("plan", "manifests", "--detailed-exitcode"), 2)
    assert f"assign user {world.assigned} (default access)" in drift.stdout
    assert "assign group" not in drift.stdout
    ok(world.cli("apply", "manifests", "--yes"))
    assert set(world.assigned_to()) == {"Emulator User", GROUP}
    assert world.code_token(world.assigned)["access_token"]

    # -- export round-trips: the exported manifest plans no changes
    ok(world.cli("export", "--app-id", world.values["client_id"], "--out", "exported"))
    exported = (tmp_path / "exported" / "assigned-app.yaml").read_text()
    assert "assignment_required: true" in exported and world.group_id in exported, exported
    assert f"owners:\n      - {member_id}  # {world.member}" in exported, exported
    assert "No changes" in ok(world.cli("plan", "exported", "--detailed-exitcode")).stdout

    # -- taking access away is a deletion: refused without a terminal unless --yes
    write_manifest(tmp_path, users="", groups=GROUP, owners="")
    refused_apply = ok(world.cli("apply", "manifests"), 1)
    assert "--yes" in refused_apply.stderr and "assignments" in refused_apply.stderr, refused_apply.stderr
    # ... and with --tenants: the same one line, not a tenant failure and "cancelled"
    (tmp_path / "tenants.yaml").write_text(
        f"tenants:\n  - name: only\n    tenant_id: {world.tenant.tenant_id}\n    emulator: true\n"
        f"    client_id: {world.tenant.admin_client_id}\n    client_secret_env: ONLY_SECRET\n"
    )
    env = {k: v for k, v in world.env.items() if k not in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID")}
    env["ONLY_SECRET"] = world.tenant.admin_client_secret
    fanned = run_cli(
        "apply", "manifests", "--tenants", "tenants.yaml", "--state-dir", "state", cwd=tmp_path, env=env
    )
    assert fanned.returncode == 1, fanned.stdout + fanned.stderr
    said = [line for line in fanned.stderr.splitlines() if "--yes" in line]
    assert said == [line for line in refused_apply.stderr.splitlines() if "--yes" in line], fanned.stderr
    assert "cancelled" not in fanned.stderr + fanned.stdout and "failed" not in fanned.stderr, fanned.stderr
    assert "Emulator User" in world.assigned_to() and member_id in world.owners()  # nothing was changed
    removed_owner = ok(world.cli("apply", "manifests", "--yes"))
    assert f"remove owner {world.member}" in removed_owner.stdout, removed_owner.stdout
    assert set(world.assigned_to()) == {GROUP}
    # the user owner is gone; the tool's own service principal (its creator) still owns the app
    assert list(world.owners().values()) == ["#microsoft.graph.servicePrincipal"], world.owners()
    assert world.sign_in(world.assigned).get("error") == "access_denied"
