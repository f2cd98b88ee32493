"""App management policies and their enforcement on new credentials.

``policies/defaultAppManagementPolicy`` (a tenantAppManagementPolicy: one per tenant,
``applicationRestrictions`` apply to every application while ``isEnabled``) and
``policies/appManagementPolicies`` (an appManagementPolicy: ``restrictions`` for the
applications it is applied to through ``applications/{id}/appManagementPolicies/$ref``).
A policy applied to an application takes precedence over the tenant default.

Enforced, as Entra does, when a credential is added (``addPassword``, ``addKey``,
keyCredentials by PATCH): ``passwordAddition`` refuses client secrets,
``passwordLifetime`` caps a secret's endDateTime - startDateTime and
``asymmetricKeyLifetime`` a certificate's validity, each only for applications created
on or after ``restrictForAppsCreatedAfterDateTime`` (null: every application).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from provisioner.emulator.clock import parse_iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.errors import GraphApiError, bad_request, invalid_value

KIND = "appManagementPolicy"
DEFAULT_KIND = "tenantAppManagementPolicy"
DEFAULT_ID = "00000000-0000-0000-0000-000000000000"
TYPE_NAME = "microsoft.graph.appManagementPolicy"
DEFAULT_TYPE_NAME = "microsoft.graph.tenantAppManagementPolicy"
PASSWORD_TYPES = (
    "passwordAddition",
    "passwordLifetime",
    "symmetricKeyAddition",
    "symmetricKeyLifetime",
    "customPasswordAddition",
)
KEY_TYPES = ("asymmetricKeyLifetime", "trustedCertificateAuthority")
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_duration(value: Any) -> timedelta | None:
    """ISO 8601 durations as Graph writes ``maxLifetime`` (``P90D``, ``P4DT12H30M5S``); None if not one."""
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    if not match or value in ("P", "PT") or value.endswith("T"):
        return None
    days, hours, minutes, seconds = match.groups()
    return timedelta(
        days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0), seconds=float(seconds or 0)
    )


def default_policy(ctx: EmulatorContext, tenant: str) -> dict[str, Any]:
    found = ctx.store.get(tenant, DEFAULT_KIND, DEFAULT_ID)
    if found is not None:
        return found
    return {
        "id": DEFAULT_ID,
        "displayName": "Default app management tenant policy",
        "description": "Default tenant policy that enforces app management restrictions on applications and "
        "service principals. To apply policy to targeted resources, create a new policy under "
        "appManagementPolicies collection.",
        "isEnabled": False,
        "applicationRestrictions": {"passwordCredentials": [], "keyCredentials": []},
        "servicePrincipalRestrictions": {"passwordCredentials": [], "keyCredentials": []},
    }


def check_restrictions(value: Any, prop: str, resource: str) -> dict[str, Any]:
    """A restrictions object: known restriction types, each once, a valid maxLifetime where one is needed."""
    if not isinstance(value, dict):
        raise invalid_value(prop, resource)
    out: dict[str, Any] = {}
    for key, allowed in (("passwordCredentials", PASSWORD_TYPES), ("keyCredentials", KEY_TYPES)):
        items = value.get(key, [])
        if not isinstance(items, list):
            raise invalid_value(prop, resource)
        seen: set[str] = set()
        for item in items:
            kind = item.get("restrictionType") if isinstance(item, dict) else None
            if kind not in allowed or kind in seen:
                raise invalid_value(prop, resource)
            seen.add(kind)
            if kind.endswith("Lifetime") and parse_duration(item.get("maxLifetime")) is None:
                raise bad_request(f"maxLifetime is required for restriction type '{kind}'.")
            when = item.get("restrictForAppsCreatedAfterDateTime")
            if when is not None:
                try:
                    parse_iso(str(when))
                except ValueError:
                    raise invalid_value(prop, resource) from None
        out[key] = [
            {
                "restrictionType": i["restrictionType"],
                "state": i.get("state", "enabled"),
                "maxLifetime": i.get("maxLifetime"),
                "restrictForAppsCreatedAfterDateTime": i.get("restrictForAppsCreatedAfterDateTime"),
            }
            for i in items
        ]
    return out


def _effective(
    ctx: EmulatorContext, tenant: str, app: dict[str, Any], sp: bool = False
) -> tuple[str | None, dict[str, Any]]:
    """The policy that judges ``app`` (a service principal when ``sp``) and its restrictions."""
    for policy_id in app.get("_appManagementPolicies", []):
        policy = ctx.store.get(tenant, KIND, policy_id)
        if policy is not None and policy.get("isEnabled"):
            return policy["id"], policy.get("restrictions") or {}
    default = default_policy(ctx, tenant)
    if default.get("isEnabled"):
        key = "servicePrincipalRestrictions" if sp else "applicationRestrictions"
        return default["id"], default.get(key) or {}
    return None, {}


def _applies(rule: dict[str, Any], app: dict[str, Any]) -> bool:
    if rule.get("state", "enabled") != "enabled":
        return False
    after = rule.get("restrictForAppsCreatedAfterDateTime")
    if after is None or not app.get("createdDateTime"):
        return True
    return parse_iso(app["createdDateTime"]) >= parse_iso(str(after))


def _rule(rules: list[dict[str, Any]], kind: str, app: dict[str, Any]) -> dict[str, Any] | None:
    return next((r for r in rules if r.get("restrictionType") == kind and _applies(r, app)), None)


def enforce_password(
    ctx: EmulatorContext,
    tenant: str,
    app: dict[str, Any],
    start: datetime,
    end: datetime,
    *,
    sp: bool = False,
) -> None:
    policy_id, restrictions = _effective(ctx, tenant, app, sp)
    rules = restrictions.get("passwordCredentials") or []
    if _rule(rules, "passwordAddition", app) is not None:
        raise GraphApiError(
            400,
            "CredentialTypeNotAllowedAsPerAppPolicy",
            f"Credential type not allowed as per assigned policy {policy_id}.",
        )
    lifetime = _rule(rules, "passwordLifetime", app)
    _check_lifetime(lifetime, policy_id, start, end)


def enforce_key(
    ctx: EmulatorContext,
    tenant: str,
    app: dict[str, Any],
    start: datetime,
    end: datetime,
    *,
    sp: bool = False,
) -> None:
    policy_id, restrictions = _effective(ctx, tenant, app, sp)
    lifetime = _rule(restrictions.get("keyCredentials") or [], "asymmetricKeyLifetime", app)
    _check_lifetime(lifetime, policy_id, start, end)


def _check_lifetime(
    rule: dict[str, Any] | None, policy_id: str | None, start: datetime, end: datetime
) -> None:
    if rule is None:
        return
    cap = parse_duration(rule.get("maxLifetime"))
    if cap is not None and end - start > cap:
        raise GraphApiError(
            400,
            "CredentialInvalidLifetimeAsPerAppPolicy",
            f"Credential lifetime exceeds the max value allowed as per assigned policy {policy_id}.",
        )
