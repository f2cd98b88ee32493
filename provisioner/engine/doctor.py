"""`provisioner doctor`: will a plan/apply with this credential work, and is the credential too broad?

Checks, in order, each reported as one line (and as JSON with ``--json``):

1. **credential** — a token for Graph can be obtained; its claims (never the
   token itself) say which tenant, which app (``appid``), app-only ``roles`` or
   delegated ``scp``, and when it expires;
2. **tenant** — the token is for the tenant asked for (``--tenant``), and Graph
   answers in it (one read of the Microsoft Graph service principal);
3. **permissions** — the caller holds every Graph permission the manifests need
   (:mod:`provisioner.graph.least_privilege`): ``Application.ReadWrite.OwnedBy``
   suffices unless registrations are adopted; ``AppRoleAssignment.ReadWrite.All``
   only for apps with application permissions and ``admin_consent: true``;
   ``DelegatedPermissionGrant.ReadWrite.All`` only for delegated ones. Permissions
   held beyond that are listed as notes (least privilege), not failures.

Nothing is written to the tenant.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from provisioner.core.errors import ProvisionerError
from provisioner.engine.loading import load_manifests
from provisioner.engine.options import RunOptions
from provisioner.engine.targeting import open_target
from provisioner.graph.connect import graph_client, login_host, make_credential
from provisioner.graph.failures import credential_error, graph_errors
from provisioner.graph.least_privilege import minimal_set, missing, needs_for_apps
from provisioner.model.catalog import GRAPH_APP_ID

if TYPE_CHECKING:
    from provisioner.graph.least_privilege import Need
    from provisioner.graph.target import Target

# Broad permissions worth a least-privilege note when a narrower one would do.
_BROAD = {
    "Application.ReadWrite.All": "Application.ReadWrite.OwnedBy",
    "Directory.ReadWrite.All": "Application.ReadWrite.OwnedBy",
    "Directory.Read.All": "Application.Read.All",
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)
    caller: dict[str, Any] = field(default_factory=dict)
    needed: list[Need] = field(default_factory=list)
    missing: list[Need] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Whether rotation can read sign-in evidence (beta auditLogs/signIns); optional, never fails doctor.
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and not self.missing

    @property
    def minimal(self) -> list[str]:
        return minimal_set(self.needed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
            "caller": self.caller,
            "needed": [_need_dict(n) for n in self.needed],
            "missing": [_need_dict(n) for n in self.missing],
            "evidence": self.evidence,
            "least_privileged_set": self.minimal,
            "notes": self.notes,
        }


def _need_dict(need: Need) -> dict[str, Any]:
    return {"feature": need.feature, "permission": need.named(), "message": need.message()}


def token_claims(access_token: str) -> dict[str, Any]:
    """The claims of our own access token, read without verifying it (we only describe it)."""
    import jwt

    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def describe_caller(claims: dict[str, Any]) -> dict[str, Any]:
    delegated = claims.get("idtyp") == "user" or "scp" in claims
    roles = claims.get("roles") if isinstance(claims.get("roles"), list) else []
    exp = claims.get("exp")
    return {
        "tenant_id": claims.get("tid"),
        "app_id": claims.get("appid") or claims.get("azp"),
        "kind": "delegated (signed-in user)" if delegated else "application (app-only)",
        "delegated": delegated,
        "user": claims.get("upn") or claims.get("preferred_username") if delegated else None,
        "permissions": sorted(str(claims.get("scp", "")).split())
        if delegated
        else sorted(map(str, roles or [])),
        "expires": datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(exp, int | float)
        else None,
    }


def run(options: RunOptions) -> DoctorReport:
    """Run every check; manifest errors raise (a doctor cannot judge a manifest it cannot read)."""
    apps: list[Any] = []
    if options.paths:
        apps, _ = load_manifests(options.paths)
    report = DoctorReport(needed=needs_for_apps(apps))
    with open_target(
        emulator=options.emulator, tenant=options.tenant, cloud=options.cloud, state_dir=options.state_dir
    ) as target:
        asyncio.run(_check(target, options.tenant, report))  # type: ignore[arg-type]
    return report


async def _check(target: Target, wanted_tenant: str | None, report: DoctorReport) -> None:
    credential = make_credential(target)
    try:
        token = await credential.get_token(target.graph_scope, **_token_kwargs(target))
    except Exception as exc:  # azure-identity raises several types; all mean "no token"
        error = (
            exc
            if isinstance(exc, ProvisionerError)
            else credential_error(exc, secret=target.client_secret, host=login_host(target))
        )
        report.checks.append(Check("credential", False, str(error)))
        return
    finally:
        await credential.close()
    caller = describe_caller(token_claims(token.token))
    report.caller = caller
    granted = caller["permissions"]
    report.checks.append(
        Check(
            "credential",
            True,
            f"{caller['kind']} token for app {caller['app_id']} in tenant {caller['tenant_id']}, "
            f"expires {caller['expires']}; permissions: {', '.join(granted) or 'none'}",
        )
    )
    token_tenant = str(caller.get("tenant_id") or "").lower()
    if wanted_tenant and target.tenant_id and token_tenant and token_tenant != target.tenant_id.lower():
        report.checks.append(
            Check("tenant", False, f"the token is for tenant {token_tenant}, not {target.tenant_id}")
        )
        return
    if not target.tenant_id:
        target.tenant_id = token_tenant or None
    report.checks.append(await _reachable(target))
    report.evidence = await _evidence(target, str(caller.get("app_id") or ""))
    if report.evidence.get("available"):
        report.notes.append(
            "sign-in evidence: available (rotation retires a replaced secret only once unused)"
        )
    else:
        report.notes.append(
            f"sign-in evidence: unavailable ({report.evidence.get('reason')}); rotation follows each "
            "secret's retire_without_evidence"
        )
    report.missing = missing(report.needed, granted, delegated=caller["delegated"])
    needed_names = {n.least for n in report.needed}
    for broad, narrow in _BROAD.items():
        if broad in granted and narrow in needed_names and not _adopting(report):
            report.notes.append(f"{broad} is broader than needed: {narrow} suffices for these manifests")
    if caller["delegated"]:
        report.notes.append(
            "delegated credential: the signed-in user also needs a directory role that allows these changes "
            "(Cloud Application Administrator; Privileged Role Administrator to grant admin consent)"
        )


def _adopting(report: DoctorReport) -> bool:
    return any(n.key == "adopt_app" for n in report.needed)


def _token_kwargs(target: Target) -> dict[str, Any]:
    if target.tenant_id and not (target.client_id and target.client_secret):
        return {"tenant_id": target.tenant_id}
    return {}


async def _evidence(target: Target, app_id: str) -> dict[str, Any]:
    """Can this credential read the sign-in log (AuditLog.Read.All and an Entra ID P1/P2 licence)?"""
    from datetime import UTC, datetime, timedelta

    from provisioner.graph.sign_ins import read_sign_ins

    try:
        async with graph_client(target, check_credential=False) as client:
            read = await read_sign_ins(client, app_id, datetime.now(UTC) - timedelta(days=1))
    except ProvisionerError as exc:
        return {"available": False, "reason": str(exc)}
    return {"available": read.available, "reason": read.reason}


async def _reachable(target: Target) -> Check:
    """One cheap read any caller allowed to plan may do: the Microsoft Graph service principal."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.service_principals.service_principals_request_builder import (
        ServicePrincipalsRequestBuilder,
    )

    query = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(
        filter=f"appId eq '{GRAPH_APP_ID}'", select=["id", "appId"]
    )
    try:
        async with graph_client(target, check_credential=False) as client, graph_errors("read from Graph"):
            page = await client.service_principals.get(RequestConfiguration(query_parameters=query))
    except ProvisionerError as exc:
        reached = getattr(exc, "status", None) is not None  # Graph answered (e.g. 403), so it is reachable
        return Check("tenant", reached, f"tenant {target.tenant_id}: {exc}")
    found = bool(page and page.value)
    detail = f"Graph at {target.graph_url} answers for tenant {target.tenant_id}"
    if not found:
        detail += " (no Microsoft Graph service principal found: is this the right tenant?)"
    return Check("tenant", True, detail)
