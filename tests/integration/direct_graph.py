"""Helpers for tests that change a tenant *behind the tool's back* and then drive the real CLI.

``DirectGraph`` talks plain HTTPS + JSON to the emulator with a tenant's
bootstrap admin credentials (the way a portal user or a script would create a
registration). ``run_cli`` runs ``python -m provisioner`` as a subprocess pointed
at the same running emulator through the environment ``provisioner emulator
serve`` prints, so CLI and test share one tenant state.
"""

from __future__ import annotations

from typing import Any

import httpx
from cli_support import base_env, ok, run_cli, tenant_env  # noqa: F401  (ok, run_cli: re-exported)

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


class DirectGraph:
    def __init__(self, emulator: Any, tenant: Any) -> None:
        self.emulator = emulator
        self.tenant = tenant
        self.http = httpx.Client(verify=str(emulator.ca_cert_path), timeout=30)
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            response = self.http.post(
                f"{self.emulator.authority}/{self.tenant.tenant_id}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.tenant.admin_client_id,
                    "client_secret": self.tenant.admin_client_secret,
                    "scope": "https://graph.microsoft.com/.default",
                },
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.request(
            method,
            f"{self.emulator.graph_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token()}"},
        )

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.call(method, path, body)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else {}

    # -- a registration made the way a portal user would

    def graph_sp(self) -> dict[str, Any]:
        found = self.ok("GET", f"/servicePrincipals?$filter=appId eq '{GRAPH_APP_ID}'")["value"]
        return found[0]

    def create_legacy_app(
        self, display_name: str, *, delegated: list[str], application: list[str], consent: bool = True
    ) -> dict[str, Any]:
        """App + service principal + secret, permissions requested and (optionally) admin-consented."""
        graph = self.graph_sp()
        scope_ids = {s["value"]: s["id"] for s in graph["oauth2PermissionScopes"]}
        role_ids = {r["value"]: r["id"] for r in graph["appRoles"]}
        app = self.ok(
            "POST",
            "/applications",
            {
                "displayName": display_name,
                "web": {
                    "redirectUris": ["https://legacy.example.com/signin-oidc"],
                    "implicitGrantSettings": {"enableIdTokenIssuance": True},
                },
                "spa": {"redirectUris": ["https://legacy.example.com/spa"]},
                "publicClient": {"redirectUris": ["http://localhost"]},
                "isFallbackPublicClient": True,
                "notes": "made in the portal",
                "tags": ["team:legacy"],
                "requiredResourceAccess": [
                    {
                        "resourceAppId": GRAPH_APP_ID,
                        "resourceAccess": [{"id": scope_ids[n], "type": "Scope"} for n in delegated]
                        + [{"id": role_ids[n], "type": "Role"} for n in application],
                    }
                ],
            },
        )
        self.ok(
            "POST", f"/applications/{app['id']}/addPassword", {"passwordCredential": {"displayName": "ops"}}
        )
        sp = self.ok("POST", "/servicePrincipals", {"appId": app["appId"]})
        if consent:
            if delegated:
                self.ok(
                    "POST",
                    "/oauth2PermissionGrants",
                    {
                        "clientId": sp["id"],
                        "consentType": "AllPrincipals",
                        "resourceId": graph["id"],
                        "scope": " ".join(delegated),
                    },
                )
            for name in application:
                self.ok(
                    "POST",
                    f"/servicePrincipals/{graph['id']}/appRoleAssignedTo",
                    {"principalId": sp["id"], "resourceId": graph["id"], "appRoleId": role_ids[name]},
                )
        return self.ok("GET", f"/applications/{app['id']}")

    def apps_named(self, display_name: str) -> list[dict[str, Any]]:
        return self.ok("GET", f"/applications?$filter=displayName eq '{display_name}'")["value"]

    def deleted_ids(self) -> set[str]:
        return {
            a["id"] for a in self.ok("GET", "/directory/deletedItems/microsoft.graph.application")["value"]
        }


def cli_env(emulator: Any, tenant: Any, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**base_env(), **tenant_env(emulator, tenant), **(extra or {})}
