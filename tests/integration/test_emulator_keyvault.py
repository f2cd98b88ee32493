"""The emulated Key Vault secrets data plane, driven by the unmodified ``azure-keyvault-secrets`` SDK.

The vault is the emulator's own origin (``RunningEmulator.base_url``); the SDK authenticates with
Key Vault's challenge protocol against the emulator's token endpoint. Raw ``httpx`` requests
check what the SDK does not show: the challenge header, status codes, error bodies, paging.
Every test uses secret names of its own, so the session-wide emulator can be shared.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient  # the keyvault extra: `make test` installs it
from azure.keyvault.secrets._shared import HttpChallenge

from provisioner.emulator import RunningEmulator

VAULT_SCOPE = "https://vault.azure.net/.default"
API = {"api-version": "7.4"}
DAY = 86400


def unique(prefix: str = "s") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def credential(emulator: RunningEmulator, tenant: dict[str, Any] | None = None) -> ClientSecretCredential:
    """azure-identity's credential for a tenant's bootstrap admin (the emulator's first tenant by default)."""
    info = tenant or {
        "tenant_id": emulator.tenant.tenant_id,
        "admin_client_id": emulator.tenant.admin_client_id,
        "admin_client_secret": emulator.tenant.admin_client_secret,
    }
    return ClientSecretCredential(
        info["tenant_id"],
        info["admin_client_id"],
        info["admin_client_secret"],
        authority=emulator.authority,
        disable_instance_discovery=True,
        connection_verify=str(emulator.ca_cert_path),
    )


def vault(emulator: RunningEmulator, cred: Any = None, **kwargs: Any) -> SecretClient:
    """The SDK client for the emulator's vault, with the settings a loopback vault needs."""
    kwargs.setdefault("verify_challenge_resource", False)
    return SecretClient(
        emulator.base_url,
        cred or credential(emulator),
        connection_verify=str(emulator.ca_cert_path),
        **kwargs,
    )


@pytest.fixture()
def http(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(verify=emulator.ssl_context(), base_url=emulator.base_url) as client:
        yield client


def bearer(emulator: RunningEmulator, scope: str = VAULT_SCOPE, tenant: dict[str, Any] | None = None) -> dict:
    return {"Authorization": f"Bearer {credential(emulator, tenant).get_token(scope).token}"}


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


# -- challenge and tokens -----------------------------------------------------------------------------


def test_unauthenticated_request_gets_the_documented_challenge(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    response = http.put(f"/secrets/{unique()}", params=API, json={"value": "x"})
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}
    }
    header = response.headers["www-authenticate"]
    tenant = emulator.tenant.tenant_id
    assert (
        header == f'Bearer authorization="{emulator.base_url}/{tenant}", resource="https://vault.azure.net"'
    )
    # What the SDK reads out of it: the tenant to ask a token in, and the resource.
    parsed = HttpChallenge(str(response.request.url), header)
    assert parsed.tenant_id == tenant and parsed.get_resource() == "https://vault.azure.net"
    assert parsed.get_scope() == ""  # so the SDK asks for "<resource>/.default"


def test_vault_tokens_are_v1_and_checked_for_audience_and_tenant(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    token = credential(emulator).get_token(VAULT_SCOPE).token
    claims = claims_of(token)
    tenant = emulator.tenant.tenant_id
    assert claims["aud"] == "https://vault.azure.net" and claims["ver"] == "1.0"
    assert claims["iss"] == f"https://sts.windows.net/{tenant}/" and claims["tid"] == tenant
    assert claims["appid"] == emulator.tenant.admin_client_id and claims["appidacr"] == "1"
    assert "azp" not in claims and "roles" not in claims  # Key Vault publishes no app roles

    ok = http.get("/secrets", params=API, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and isinstance(ok.json()["value"], list)

    graph = http.get("/secrets", params=API, headers=bearer(emulator, "https://graph.microsoft.com/.default"))
    assert graph.status_code == 401 and "www-authenticate" in graph.headers
    assert graph.json()["error"]["message"] == (
        "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://graph.microsoft.com."
    )
    forged = http.get("/secrets", params=API, headers={"Authorization": f"Bearer {token[:-6]}AAAAAA"})
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "Unauthorized"
    basic = http.get("/secrets", params=API, headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401 and "AKV10000" in basic.json()["error"]["message"]


def test_the_sdk_refuses_a_loopback_challenge_unless_resource_verification_is_off(
    emulator: RunningEmulator,
) -> None:
    """Why the keyvault sink passes verify_challenge_resource=False for a loopback vault URL."""
    strict = vault(emulator, verify_challenge_resource=True)
    with pytest.raises(ValueError, match="does not match the requested domain"):
        strict.get_secret(unique())
    with pytest.raises(ResourceNotFoundError):
        vault(emulator).get_secret(unique())


# -- the secrets lifecycle with the SDK ---------------------------------------------------------------


def test_set_get_versions_update_and_list(emulator: RunningEmulator) -> None:
    client = vault(emulator)
    name = unique("Life")
    expires = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = client.set_secret(name, "v1", tags={"keyId": "k1"}, content_type="text/plain", expires_on=expires)
    assert first.value == "v1" and first.name == name
    assert first.id == f"{emulator.base_url}/secrets/{name}/{first.properties.version}"
    assert len(first.properties.version or "") == 32 and first.properties.vault_url == emulator.base_url
    assert first.properties.tags == {"keyId": "k1"} and first.properties.content_type == "text/plain"
    assert first.properties.expires_on == expires and first.properties.enabled is True
    assert first.properties.recovery_level == "Recoverable+Purgeable"
    assert first.properties.recoverable_days == 90
    second = client.set_secret(name.lower(), "v2")  # names are case-insensitive; the first spelling stays
    assert second.name == name and second.properties.tags is None

    assert client.get_secret(name).value == "v2"
    assert client.get_secret(name, first.properties.version).value == "v1"
    versions = [p.version for p in client.list_properties_of_secret_versions(name)]
    assert versions == [first.properties.version, second.properties.version]
    listed = [p for p in client.list_properties_of_secrets() if p.name == name]
    assert len(listed) == 1 and listed[0].version is None  # the base id, no value

    updated = client.update_secret_properties(name, first.properties.version, enabled=False, tags={"a": "b"})
    assert (
        updated.enabled is False
        and updated.tags == {"a": "b"}
        and updated.version == first.properties.version
    )
    with pytest.raises(HttpResponseError) as disabled:
        client.get_secret(name, first.properties.version)
    assert disabled.value.status_code == 403
    assert disabled.value.error is not None and disabled.value.error.code == "Forbidden"
    assert "Operation get is not allowed on a disabled secret." in str(disabled.value)
    latest = client.update_secret_properties(name, content_type="application/x")  # no version: current one
    assert latest.version == second.properties.version and latest.content_type == "application/x"
    with pytest.raises(ResourceNotFoundError, match="was not found in this key vault"):
        client.get_secret(name, uuid.uuid4().hex)


def test_soft_delete_recover_and_purge(emulator: RunningEmulator) -> None:
    client = vault(emulator)
    name = unique("gone")
    client.set_secret(name, "v1")
    deleted = client.begin_delete_secret(name).result()
    assert deleted.recovery_id == f"{emulator.base_url}/deletedsecrets/{name}"
    assert deleted.deleted_date and deleted.scheduled_purge_date
    assert (deleted.scheduled_purge_date - deleted.deleted_date).days == 90
    assert name in [d.name for d in client.list_deleted_secrets()]
    assert name not in [p.name for p in client.list_properties_of_secrets()]
    assert client.get_deleted_secret(name).properties.version  # the versioned id of the current version
    with pytest.raises(ResourceNotFoundError, match="SecretNotFound"):
        client.get_secret(name)
    with pytest.raises(ResourceExistsError) as reused:
        client.set_secret(name, "v2")
    assert reused.value.status_code == 409
    assert "currently in a deleted but recoverable state" in str(reused.value)

    recovered = client.begin_recover_deleted_secret(name).result()
    assert recovered.name == name and client.get_secret(name).value == "v1"
    with pytest.raises(ResourceNotFoundError, match="Deleted Secret not found"):
        client.get_deleted_secret(name)

    client.begin_delete_secret(name).result()
    client.purge_deleted_secret(name)
    assert name not in [d.name for d in client.list_deleted_secrets()]
    assert client.set_secret(name, "fresh").value == "fresh"  # the name is free again


# -- the REST surface the SDK hides ------------------------------------------------------------------


def test_paging_with_maxresults_and_next_link(emulator: RunningEmulator, http: httpx.Client) -> None:
    client = vault(emulator)
    name = unique("paged")
    for value in ("a", "b", "c"):
        client.set_secret(name, value)
    auth = bearer(emulator)
    first = http.get(f"/secrets/{name}/versions", params={**API, "maxresults": 2}, headers=auth).json()
    assert len(first["value"]) == 2 and first["nextLink"].startswith(f"{emulator.base_url}/secrets/{name}/")
    second = http.get(first["nextLink"], headers=auth).json()
    assert len(second["value"]) == 1 and second["nextLink"] is None
    ids = [item["id"] for item in first["value"] + second["value"]]
    assert len(set(ids)) == 3 and all(i.startswith(f"{emulator.base_url}/secrets/{name}/") for i in ids)
    assert set(first["value"][0]) >= {"id", "attributes"} and "value" not in first["value"][0]
    too_many = http.get("/secrets", params={**API, "maxresults": 26}, headers=auth)
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "BadParameter"
    # The SDK follows nextLink itself.
    assert len(list(client.list_properties_of_secret_versions(name, max_page_size=1))) == 3


def test_bad_requests(emulator: RunningEmulator, http: httpx.Client) -> None:
    auth = bearer(emulator)
    bad_name = http.put("/secrets/bad_name", params=API, json={"value": "x"}, headers=auth)
    assert bad_name.status_code == 400
    assert bad_name.json() == {
        "error": {"code": "BadParameter", "message": "The request URI contains an invalid name: bad_name"}
    }
    no_version = http.get(f"/secrets/{unique()}", headers=auth)
    assert no_version.status_code == 400 and no_version.json()["error"]["code"] == "BadParameter"
    unknown_version = http.get(f"/secrets/{unique()}", params={"api-version": "1999-01-01"}, headers=auth)
    assert unknown_version.status_code == 400
    no_value = http.put(f"/secrets/{unique()}", params=API, json={"tags": {}}, headers=auth)
    assert no_value.status_code == 400 and no_value.json()["error"]["code"] == "BadParameter"
    not_json = http.put(f"/secrets/{unique()}", params=API, content=b"{", headers=auth)
    assert not_json.status_code == 400
    missing = http.get(f"/secrets/{unique()}/", params=API, headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "SecretNotFound"
    keys = http.get("/keys", params=API, headers=auth)
    assert keys.status_code == 404 and "error" in keys.json()


# -- vault settings and other tenants (private emulators) ---------------------------------------------


def test_vault_of_another_tenant_answers_invalid_issuer(tmp_emulator: RunningEmulator) -> None:
    emulator = tmp_emulator
    admin = emulator.admin_headers()
    with httpx.Client(verify=emulator.ssl_context(), base_url=emulator.base_url) as http:
        other = http.post("/_emulator/tenants", json={"tenant_id": str(uuid.uuid4())}, headers=admin).json()
        home = http.get("/_emulator/keyvault", headers=admin).json()
        assert home["vault_url"] == emulator.base_url and home["tenant_id"] == emulator.tenant.tenant_id
        moved = http.put("/_emulator/keyvault", json={"tenant_id": other["tenant_id"]}, headers=admin)
        assert moved.status_code == 200 and moved.json()["tenant_id"] == other["tenant_id"]
        assert http.put("/_emulator/keyvault", json={"tenant_id": "nope"}, headers=admin).status_code == 400

        foreign = http.get("/secrets", params=API, headers=bearer(emulator))
        assert foreign.status_code == 401
        assert foreign.json()["error"]["message"].startswith(
            f"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{other['tenant_id']}/"
        )
        assert f'/{other["tenant_id"]}"' in foreign.headers["www-authenticate"]

    # The SDK follows the challenge to the vault's tenant: a credential for another tenant is refused
    # by azure-identity itself, one for the vault's tenant works.
    with pytest.raises(ClientAuthenticationError, match="tenant"):
        vault(emulator).get_secret(unique())
    owner = vault(emulator, credential(emulator, other))
    assert owner.set_secret("there", "v").value == "v"


def test_retention_purge_protection_and_scheduled_purge(tmp_emulator: RunningEmulator) -> None:
    emulator = tmp_emulator
    admin = emulator.admin_headers()
    client = vault(emulator)
    with httpx.Client(verify=emulator.ssl_context(), base_url=emulator.base_url) as http:
        configured = http.put(
            "/_emulator/keyvault",
            json={"soft_delete_retention_days": 7, "purge_protection": True},
            headers=admin,
        ).json()
        assert configured["recovery_level"] == "CustomizedRecoverable"
        refused = http.put("/_emulator/keyvault", json={"purge_protection": False}, headers=admin)
        assert refused.status_code == 400
        assert (
            http.put("/_emulator/keyvault", json={"soft_delete_retention_days": 3}, headers=admin).status_code
            == 400
        )

    secret = client.set_secret("kept", "v")
    assert secret.properties.recovery_level == "CustomizedRecoverable"
    assert secret.properties.recoverable_days == 7
    deleted = client.begin_delete_secret("kept").result()
    assert deleted.scheduled_purge_date and deleted.deleted_date
    assert (deleted.scheduled_purge_date - deleted.deleted_date).days == 7
    with pytest.raises(HttpResponseError) as protected:
        client.purge_deleted_secret("kept")
    assert protected.value.status_code == 403 and "purge protection is enabled" in str(protected.value)

    # The service purges it when the retention ends (on the emulator clock); the name is free again.
    # (A new client: the old one's token has expired on the moved clock, not on the SDK's.)
    emulator.ctx.clock.advance(7 * DAY + 1)
    client = vault(emulator)
    assert [d.name for d in client.list_deleted_secrets()] == []
    assert client.set_secret("kept", "again").value == "again"
