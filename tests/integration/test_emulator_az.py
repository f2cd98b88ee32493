"""The unmodified Azure CLI against a fresh emulator: the documented setup, then the ``az ad`` command set.

``az`` comes from its own virtualenv (``make az-venv``, kept under the user cache and
reused; ``make test`` builds it and passes its path in ``PROVISIONER_TEST_AZ``). It is
pointed at the emulator exactly as the README tells users: ``provisioner emulator az-setup
--run`` registers an isolated custom cloud and signs in as the tenant's bootstrap service
principal. Every command below must exit 0 (``--show-mine`` and ``signed-in-user`` after a
user sign-in through the emulator's page, driven by a stand-in browser). The one exception
is ``az ad app permission admin-consent``, which calls a legacy non-Graph API and refuses
any cloud but Azure's public one; its Graph-based alternative is run instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import base_env, ok, run_cli, tenant_env

from provisioner.emulator import RunningEmulator, start_emulator
from provisioner.emulator.seed import GRAPH_APP_ID

pytestmark = pytest.mark.slow

AZ_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # the Azure CLI's public client (azure-cli source)
USER_READ = "e1fe6dd8-ba31-4d61-89e7-88639da4683d"  # Microsoft Graph delegated User.Read
APPLICATION_READ_ALL = "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30"  # Microsoft Graph application role
FEDERATED = {
    "name": "github-main",
    "issuer": "https://token.actions.githubusercontent.com",
    "subject": "repo:octo/app:ref:refs/heads/main",
    "audiences": ["api://AzureADTokenExchange"],
}


def az_executable() -> str:
    """``make az-venv``'s az; CI must have it (a silent skip would hide the whole command set)."""
    candidates = [
        os.environ.get("PROVISIONER_TEST_AZ", ""),
        str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "provisioner"),
    ]
    if candidates[0] and Path(candidates[0]).is_file():
        return candidates[0]
    found = sorted(Path(candidates[1]).glob("azure-cli-*/bin/az"))
    if found:
        return str(found[-1])
    if os.environ.get("CI"):
        pytest.fail("azure-cli is not installed: run `make az-venv` (make test does)")
    pytest.skip("azure-cli is not installed: run `make az-venv`")


class Az:
    """``az`` with its own config dir, signed in to the emulator by ``provisioner emulator az-setup --run``."""

    def __init__(self, executable: str, emulator: RunningEmulator, home: Path) -> None:
        self.executable = executable
        self.emulator = emulator
        self.home = home
        self.config_dir = home / "azure-cli"
        self.env = {
            **base_env(),
            "AZURE_CONFIG_DIR": str(self.config_dir),
            "REQUESTS_CA_BUNDLE": str(emulator.ca_cert_path),
            # No traffic beyond loopback: no telemetry upload, no extension index, no survey.
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_SURVEY_MESSAGE": "false",
            "AZURE_EXTENSION_USE_DYNAMIC_INSTALL": "no",
            "AZURE_CORE_NO_COLOR": "true",
            "NO_PROXY": "localhost,127.0.0.1",
        }

    def setup(self) -> subprocess.CompletedProcess[str]:
        env = {**base_env(), **tenant_env(self.emulator, self.emulator.tenant)}
        args = (
            "emulator",
            "az-setup",
            "--run",
            "--az",
            self.executable,
            "--config-dir",
            str(self.config_dir),
        )
        return run_cli(*args, cwd=self.home, env=env)

    def run(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable, *args, "--only-show-errors"],
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )

    def __call__(self, *args: str, **kwargs: Any) -> Any:
        """Run ``az ARGS -o json``, assert exit 0, return the parsed output (None when empty)."""
        proc = ok(self.run(*args, "--output", "json", **kwargs))
        return json.loads(proc.stdout) if proc.stdout.strip() else None


@pytest.fixture(scope="module")
def az_path() -> str:
    return az_executable()


@pytest.fixture(scope="module")
def emulator_for_az() -> Iterator[RunningEmulator]:
    with start_emulator() as running:
        yield running


@pytest.fixture
def az(az_path: str, emulator_for_az: RunningEmulator, tmp_path: Path) -> Az:
    cli = Az(az_path, emulator_for_az, tmp_path)
    ok(cli.setup())
    return cli


def new_app(az: Az, name: str) -> dict[str, Any]:
    app: dict[str, Any] = az("ad", "app", "create", "--display-name", f"{name}-{uuid.uuid4().hex[:6]}")
    return app


# --------------------------------------------------------------------------- setup and sign-in


def test_az_setup_prints_the_steps_and_signs_in(
    az_path: str, emulator_for_az: RunningEmulator, tmp_path: Path
) -> None:
    emulator = emulator_for_az
    env = {**base_env(), **tenant_env(emulator, emulator.tenant)}
    printed = ok(run_cli("emulator", "az-setup", "--config-dir", "cfg", cwd=tmp_path, env=env)).stdout
    assert f"export AZURE_CONFIG_DIR={tmp_path / 'cfg'}" in printed
    assert f"--endpoint-microsoft-graph-resource-id {emulator.base_url}/" in printed
    assert f"--endpoint-resource-manager {emulator.base_url}/arm/" in printed
    assert "core.instance_discovery=false" in printed and '--password "$AZURE_CLIENT_SECRET"' in printed
    assert emulator.tenant.admin_client_secret not in printed
    missing = run_cli("emulator", "az-setup", cwd=tmp_path, env=base_env())
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and "--url" in missing.stderr

    cli = Az(az_path, emulator, tmp_path)
    done = ok(cli.setup())
    assert "az is signed in to the emulator" in done.stdout
    assert emulator.tenant.admin_client_secret not in done.stdout + done.stderr
    assert (cli.config_dir / "config").is_file()  # az's files go to the isolated config dir
    ok(cli.setup())  # again with the same config dir: the cloud is updated, not registered twice
    account = cli("account", "show")
    assert (account["tenantId"], account["user"]["type"]) == (emulator.tenant.tenant_id, "servicePrincipal")
    assert (
        account["name"] == "N/A(tenant level account)"
        and cli("cloud", "show")["name"] == "ProvisionerEmulator"
    )
    tenants = cli(
        "rest", "--method", "get", "--url", f"{emulator.base_url}/arm/tenants?api-version=2022-12-01"
    )
    assert [t["tenantId"] for t in tenants["value"]] == [emulator.tenant.tenant_id]  # az's ARM token
    # Without --allow-no-subscriptions az refuses a tenant without subscriptions, as against Azure.
    login = cli.run(
        "login",
        "--service-principal",
        "--username",
        emulator.tenant.admin_client_id,
        "--password",
        emulator.tenant.admin_client_secret,
        "--tenant",
        emulator.tenant.tenant_id,
    )
    assert login.returncode == 1 and "No subscriptions found" in login.stderr


# --------------------------------------------------------------------------- the az ad command set


def test_az_registrations_and_owners(az: Az) -> None:
    app = new_app(az, "az-reg")
    app_id, object_id = app["appId"], app["id"]
    assert [a["appId"] for a in az("ad", "app", "list", "--display-name", app["displayName"])] == [app_id]
    assert [a["id"] for a in az("ad", "app", "list", "--app-id", app_id)] == [object_id]
    assert az("ad", "app", "list", "--filter", f"appId eq '{app_id}'")[0]["id"] == object_id
    assert app_id in {a["appId"] for a in az("ad", "app", "list", "--all")}
    az(
        "ad", "app", "update", "--id", app_id,
        "--identifier-uris", f"api://{app_id}",
        "--web-redirect-uris", "https://app.example/callback",
        "--sign-in-audience", "AzureADMultipleOrgs",
    )  # fmt: skip
    az("ad", "app", "update", "--id", object_id, "--set", "notes=managed by az")
    shown = az("ad", "app", "show", "--id", f"api://{app_id}")
    assert (
        shown["web"]["redirectUris"] == ["https://app.example/callback"] and shown["notes"] == "managed by az"
    )
    assert [a["appId"] for a in az("ad", "app", "list", "--identifier-uri", f"api://{app_id}")] == [app_id]

    sp = az("ad", "sp", "create", "--id", app_id)
    assert sp["appId"] == app_id and sp["publisherName"]
    assert az("ad", "sp", "show", "--id", app_id)["id"] == sp["id"]
    assert [s["id"] for s in az("ad", "sp", "list", "--spn", f"api://{app_id}")] == [sp["id"]]
    assert [s["id"] for s in az("ad", "sp", "list", "--display-name", app["displayName"])] == [sp["id"]]
    assert sp["id"] in {s["id"] for s in az("ad", "sp", "list", "--all")}
    assert az("ad", "sp", "list", "--filter", f"appId eq '{app_id}'")[0]["id"] == sp["id"]
    az("ad", "sp", "update", "--id", sp["id"], "--set", "tags=['WindowsAzureActiveDirectoryIntegratedApp']")
    assert az("ad", "sp", "show", "--id", sp["id"])["tags"] == ["WindowsAzureActiveDirectoryIntegratedApp"]

    user = az("ad", "user", "list", "--filter", "startswith(userPrincipalName,'user@')")[0]
    az("ad", "app", "owner", "add", "--id", app_id, "--owner-object-id", user["id"])
    assert user["id"] in {o["id"] for o in az("ad", "app", "owner", "list", "--id", app_id)}
    az("ad", "app", "owner", "remove", "--id", app_id, "--owner-object-id", user["id"])
    assert user["id"] not in {o["id"] for o in az("ad", "app", "owner", "list", "--id", app_id)}
    az("ad", "sp", "owner", "list", "--id", sp["id"])

    rbac = az("ad", "sp", "create-for-rbac", "--name", f"az-rbac-{uuid.uuid4().hex[:6]}")
    assert rbac["password"] and rbac["tenant"] == az.emulator.tenant.tenant_id
    az("ad", "sp", "delete", "--id", sp["id"])
    az("ad", "app", "delete", "--id", app_id)
    assert az("ad", "app", "list", "--app-id", app_id) == []


def test_az_credentials(az: Az) -> None:
    app = new_app(az, "az-cred")
    app_id = app["appId"]
    reset = az("ad", "app", "credential", "reset", "--id", app_id, "--display-name", "first")
    assert reset["appId"] == app_id and reset["tenant"] == az.emulator.tenant.tenant_id
    az("ad", "sp", "create", "--id", app_id)
    form = {"grant_type": "client_credentials", "client_id": app_id, "client_secret": reset["password"],
            "scope": f"{az.emulator.base_url}//.default"}  # fmt: skip
    token = httpx.post(
        f"{az.emulator.authority}/{az.emulator.tenant.tenant_id}/oauth2/v2.0/token",
        data=form,
        verify=str(az.emulator.ca_cert_path),
    )
    assert token.status_code == 200, token.text  # the secret az printed works
    az(
        "ad",
        "app",
        "credential",
        "reset",
        "--id",
        app_id,
        "--append",
        "--display-name",
        "second",
        "--years",
        "2",
    )
    secrets = az("ad", "app", "credential", "list", "--id", app_id)
    assert sorted(s["displayName"] for s in secrets) == ["first", "second"]
    first = next(s["keyId"] for s in secrets if s["displayName"] == "first")
    az("ad", "app", "credential", "delete", "--id", app_id, "--key-id", first)
    assert [s["displayName"] for s in az("ad", "app", "credential", "list", "--id", app_id)] == ["second"]

    cert = az("ad", "app", "credential", "reset", "--id", app_id, "--create-cert", "--append")
    pem = Path(cert["fileWithCertAndPrivateKey"])
    assert pem.is_file()
    pem.unlink()
    certs = az("ad", "app", "credential", "list", "--id", app_id, "--cert")
    assert len(certs) == 1 and certs[0]["type"] == "AsymmetricX509Cert"
    az("ad", "app", "credential", "delete", "--id", app_id, "--key-id", certs[0]["keyId"], "--cert")
    assert az("ad", "app", "credential", "list", "--id", app_id, "--cert") == []

    sp_reset = az("ad", "sp", "credential", "reset", "--id", app_id)
    assert sp_reset["password"]
    az("ad", "sp", "credential", "reset", "--id", app_id, "--append", "--display-name", "extra")
    sp_secrets = az("ad", "sp", "credential", "list", "--id", app_id)
    assert len(sp_secrets) == 2
    az("ad", "sp", "credential", "delete", "--id", app_id, "--key-id", sp_secrets[0]["keyId"])
    assert len(az("ad", "sp", "credential", "list", "--id", app_id)) == 1
    sp_cert = az("ad", "sp", "credential", "reset", "--id", app_id, "--create-cert", "--append")
    Path(sp_cert["fileWithCertAndPrivateKey"]).unlink()
    sp_certs = az("ad", "sp", "credential", "list", "--id", app_id, "--cert")
    assert len(sp_certs) == 1 and len(sp_certs[0]["customKeyIdentifier"]) == 40
    az("ad", "sp", "credential", "delete", "--id", app_id, "--key-id", sp_certs[0]["keyId"], "--cert")


def test_az_permissions_and_federated_credentials(az: Az) -> None:
    app = new_app(az, "az-perm")
    app_id = app["appId"]
    sp = az("ad", "sp", "create", "--id", app_id)
    az(
        "ad", "app", "permission", "add", "--id", app_id, "--api", GRAPH_APP_ID,
        "--api-permissions", f"{USER_READ}=Scope", f"{APPLICATION_READ_ALL}=Role",
    )  # fmt: skip
    [required] = az("ad", "app", "permission", "list", "--id", app_id)
    assert {(a["id"], a["type"]) for a in required["resourceAccess"]} == {
        (USER_READ, "Scope"),
        (APPLICATION_READ_ALL, "Role"),
    }
    grant = az(
        "ad", "app", "permission", "grant", "--id", app_id, "--api", GRAPH_APP_ID, "--scope", "User.Read"
    )
    assert (grant["consentType"], grant["scope"], grant["clientId"]) == (
        "AllPrincipals",
        "User.Read",
        sp["id"],
    )
    assert [g["id"] for g in az("ad", "app", "permission", "list-grants", "--id", app_id)] == [grant["id"]]
    named = az("ad", "app", "permission", "list-grants", "--id", app_id, "--show-resource-name")
    assert named[0]["resourceDisplayName"] == "Microsoft Graph"
    assert (
        az("ad", "app", "permission", "list-grants", "--filter", f"clientId eq '{sp['id']}'")[0]["id"]
        == grant["id"]
    )

    # admin-consent calls a legacy portal API (not Graph) and refuses every cloud but Azure's public one.
    legacy = az.run("ad", "app", "permission", "admin-consent", "--id", app_id)
    assert legacy.returncode == 1 and "not yet supported on sovereign clouds" in legacy.stderr
    # The Graph way (README): grant the application permission as an app role assignment.
    graph_sp = az("ad", "sp", "show", "--id", GRAPH_APP_ID)
    body = json.dumps(
        {"principalId": sp["id"], "resourceId": graph_sp["id"], "appRoleId": APPLICATION_READ_ALL}
    )
    assigned = az(
        "rest", "--method", "post", "--resource", f"{az.emulator.base_url}/",
        "--url", f"{az.emulator.graph_url}/servicePrincipals/{graph_sp['id']}/appRoleAssignedTo",
        "--body", body,
    )  # fmt: skip
    assert (assigned["principalId"], assigned["appRoleId"]) == (sp["id"], APPLICATION_READ_ALL)
    az("ad", "app", "permission", "delete", "--id", app_id, "--api", GRAPH_APP_ID)
    assert az("ad", "app", "permission", "list", "--id", app_id) == []

    created = az(
        "ad", "app", "federated-credential", "create", "--id", app_id, "--parameters", json.dumps(FEDERATED)
    )
    assert created["subject"] == FEDERATED["subject"]
    assert [c["name"] for c in az("ad", "app", "federated-credential", "list", "--id", app_id)] == [
        "github-main"
    ]
    shown = az(
        "ad",
        "app",
        "federated-credential",
        "show",
        "--id",
        app_id,
        "--federated-credential-id",
        "github-main",
    )
    assert shown["id"] == created["id"]
    changed = {**FEDERATED, "subject": "repo:octo/app:environment:prod"}
    az(
        "ad", "app", "federated-credential", "update", "--id", app_id,
        "--federated-credential-id", created["id"], "--parameters", json.dumps(changed),
    )  # fmt: skip
    assert (
        az(
            "ad",
            "app",
            "federated-credential",
            "show",
            "--id",
            app_id,
            "--federated-credential-id",
            created["id"],
        )["subject"]
        == changed["subject"]
    )
    az(
        "ad",
        "app",
        "federated-credential",
        "delete",
        "--id",
        app_id,
        "--federated-credential-id",
        "github-main",
    )
    assert az("ad", "app", "federated-credential", "list", "--id", app_id) == []


def test_az_user_sign_in_show_mine_and_signed_in_user(az: Az) -> None:
    """``--show-mine`` reads /me/ownedObjects, which needs a user: az signs one in through the emulator's page.

    The Azure CLI is a Microsoft application that real tenants already know and trust; here the
    test registers it (its public client id, a loopback redirect URI) and grants it the delegated
    permissions a tenant's admin consent gives it, then ``az login`` opens the stand-in browser.
    """
    emulator = az.emulator
    tenant = emulator.tenant
    admin_upn = f"admin@{tenant.domain}"
    cli_sp = _register_azure_cli(az)
    for resource, scope in (
        (GRAPH_APP_ID, "User.Read Directory.AccessAsUser.All"),
        (ARM_APP_ID, "user_impersonation"),
    ):
        resource_sp = az("ad", "sp", "show", "--id", resource)
        az(
            "rest", "--method", "post", "--resource", f"{emulator.base_url}/",
            "--url", f"{emulator.graph_url}/oauth2PermissionGrants",
            "--body", json.dumps({"clientId": cli_sp["id"], "consentType": "AllPrincipals",
                                  "resourceId": resource_sp["id"], "scope": scope}),
        )  # fmt: skip
    browser_log = az.home / "browser.log"
    browser = {
        "BROWSER": f"{sys.executable} {Path(__file__).with_name('az_browser.py')} %s",
        "AZ_BROWSER_UPN": admin_upn,
        "AZ_BROWSER_LOG": str(browser_log),
        "DISPLAY": "",
    }
    login = az.run("login", "--tenant", tenant.tenant_id, "--allow-no-subscriptions", extra_env=browser)
    assert login.returncode == 0, (login.stderr, browser_log.read_text() if browser_log.exists() else "")
    assert az("account", "show")["user"] == {"name": admin_upn, "type": "user"}
    me = az("ad", "signed-in-user", "show")
    assert me["userPrincipalName"] == admin_upn
    mine = az("ad", "app", "list", "--show-mine")
    assert tenant.admin_client_id in {a["appId"] for a in mine}  # the admin owns the bootstrap app
    assert {s["appId"] for s in az("ad", "sp", "list", "--show-mine")} >= {tenant.admin_client_id}
    owned = az("ad", "signed-in-user", "list-owned-objects")
    assert {o["@odata.type"] for o in owned} == {
        "#microsoft.graph.application",
        "#microsoft.graph.servicePrincipal",
    }


ARM_APP_ID = "797f4846-ba00-4fd7-ba43-dac1f8f63013"


def _register_azure_cli(az: Az) -> dict[str, Any]:
    """The Azure CLI's application (public client, loopback redirect) and its service principal."""
    emulator = az.emulator
    tenant = emulator.tenant.tenant_id
    store = emulator.ctx.store
    app = {
        "id": str(uuid.uuid4()),
        "appId": AZ_CLI_APP_ID,
        "displayName": "Microsoft Azure CLI",
        "signInAudience": "AzureADMultipleOrgs",
        "isFallbackPublicClient": True,
        "identifierUris": [],
        "publicClient": {"redirectUris": ["http://localhost"]},
        "web": {"redirectUris": []},
        "spa": {"redirectUris": []},
        "requiredResourceAccess": [],
        "passwordCredentials": [],
        "keyCredentials": [],
        "_owners": [],
    }
    if not store.find(tenant, "applications", appId=AZ_CLI_APP_ID):
        store.put(tenant, "applications", app)
    existing = az.run("ad", "sp", "show", "--id", AZ_CLI_APP_ID, "--output", "json")
    if existing.returncode == 0:
        sp: dict[str, Any] = json.loads(existing.stdout)
        return sp
    created: dict[str, Any] = az("ad", "sp", "create", "--id", AZ_CLI_APP_ID)
    return created
