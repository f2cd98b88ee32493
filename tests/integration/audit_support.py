"""Sign-in evidence in the emulator: grant the tool's credential ``AuditLog.Read.All`` the way an admin would.

The bootstrap credential does not hold it (so every other test runs "without evidence", as most real
tenants do); these helpers add the app role assignment through Graph and set the tenant's licence and
reporting delay through the admin route.
"""

from __future__ import annotations

from typing import Any

import httpx

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def _client_credentials(running: Any, client_id: str, secret: str) -> httpx.Response:
    """A client-credentials token request for Graph with a secret (a sign-in with that secret's keyId)."""
    with httpx.Client(verify=running.ssl_context()) as client:
        return client.post(
            f"{running.base_url}/{running.tenant.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": "https://graph.microsoft.com/.default",
            },
        )


def _token(running: Any, client_id: str, secret: str) -> str:
    r = _client_credentials(running, client_id, secret)
    r.raise_for_status()
    return str(r.json()["access_token"])


def product_token(running: Any, client_id: str, secret: str) -> int:
    """A "product" getting a token with a secret (a sign-in with that secret's keyId); the HTTP status."""
    return _client_credentials(running, client_id, secret).status_code


def grant_audit_log_read(running: Any) -> None:
    """Assign Graph's ``AuditLog.Read.All`` app role to the bootstrap app's service principal."""
    t = running.tenant
    headers = {"Authorization": f"Bearer {_token(running, t.admin_client_id, t.admin_client_secret)}"}
    graph = running.graph_url
    with httpx.Client(verify=running.ssl_context(), headers=headers) as client:
        me = client.get(f"{graph}/servicePrincipals(appId='{t.admin_client_id}')").json()
        resource = client.get(f"{graph}/servicePrincipals(appId='{GRAPH_APP_ID}')").json()
        role = next(r for r in resource["appRoles"] if r["value"] == "AuditLog.Read.All")
        r = client.post(
            f"{graph}/servicePrincipals/{me['id']}/appRoleAssignments",
            json={"principalId": me["id"], "resourceId": resource["id"], "appRoleId": role["id"]},
        )
        r.raise_for_status()


def set_audit_logs(running: Any, **settings: Any) -> dict[str, Any]:
    """PUT /_emulator/audit_logs (``premium``, ``reporting_delay_seconds``) for the default tenant."""
    with httpx.Client(verify=running.ssl_context(), headers=running.admin_headers()) as client:
        r = client.put(
            f"{running.base_url}/_emulator/audit_logs",
            json={"tenant_id": running.tenant.tenant_id, **settings},
        )
    r.raise_for_status()
    return dict(r.json())


def sign_ins(running: Any, app_id: str) -> httpx.Response:
    """The tool's own query: service-principal sign-ins of one app (beta)."""
    t = running.tenant
    token = _token(running, t.admin_client_id, t.admin_client_secret)
    flt = f"signInEventTypes/any(t: t eq 'servicePrincipal') and appId eq '{app_id}'"
    with httpx.Client(verify=running.ssl_context()) as client:
        return client.get(
            f"{running.base_url}/beta/auditLogs/signIns",
            params={"$filter": flt},
            headers={"Authorization": f"Bearer {token}"},
        )
