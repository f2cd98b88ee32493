"""Users: just enough of the directory for sign-in, consent, owners and mailboxes.

Seeded users sign in on the authorize page (the emulator has no passwords), own
applications and receive mail (:mod:`provisioner.emulator.graph.mail`).
``revokeSignInSessions`` moves ``signInSessionsValidFromDateTime``, which the token
endpoint compares refresh tokens against (AADSTS50173).
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.errors import GraphApiError, not_found
from provisioner.emulator.graph.ids import is_guid, new_id

KIND = "users"
USER_TYPE = "microsoft.graph.user"
# Graph returns these user properties when no $select is given.
USER_DEFAULT_SELECT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)


def new_user(
    ctx: EmulatorContext,
    upn: str,
    display_name: str,
    given_name: str,
    surname: str,
    *,
    job_title: str | None = None,
) -> dict[str, Any]:
    now = iso(ctx.clock.now())
    return {
        "id": new_id(),
        "deletedDateTime": None,
        "accountEnabled": True,
        "businessPhones": [],
        "city": None,
        "companyName": None,
        "country": None,
        "createdDateTime": now,
        "creationType": None,
        "department": None,
        "displayName": display_name,
        "employeeId": None,
        "givenName": given_name,
        "jobTitle": job_title,
        "mail": upn,
        "mailNickname": upn.split("@", 1)[0],
        "mobilePhone": None,
        "officeLocation": None,
        "otherMails": [],
        "preferredLanguage": "en-US",
        "proxyAddresses": [f"SMTP:{upn}"],
        "signInSessionsValidFromDateTime": now,
        "surname": surname,
        "usageLocation": "US",
        "userPrincipalName": upn,
        "userType": "Member",
    }


KNOWN_USER_PROPERTIES = frozenset(
    {
        "id",
        "deletedDateTime",
        "accountEnabled",
        "businessPhones",
        "city",
        "companyName",
        "country",
        "createdDateTime",
        "creationType",
        "department",
        "displayName",
        "employeeId",
        "givenName",
        "jobTitle",
        "mail",
        "mailNickname",
        "mobilePhone",
        "officeLocation",
        "otherMails",
        "preferredLanguage",
        "proxyAddresses",
        "signInSessionsValidFromDateTime",
        "surname",
        "usageLocation",
        "userPrincipalName",
        "userType",
    }
)


def find(ctx: EmulatorContext, tenant: str, key: str) -> dict[str, Any] | None:
    """A user by object id or userPrincipalName (both address a user in Graph URLs)."""
    if is_guid(key):
        return ctx.store.get(tenant, KIND, key.lower())
    wanted = key.lower()
    for user in ctx.store.list(tenant, KIND):
        if str(user.get("userPrincipalName", "")).lower() == wanted:
            return user
    return None


def get(ctx: EmulatorContext, tenant: str, key: str) -> dict[str, Any]:
    user = find(ctx, tenant, key)
    if user is None:
        raise not_found(key)
    return user


def mailbox(ctx: EmulatorContext, tenant: str, key: str) -> dict[str, Any]:
    """The user behind a mailbox URL; Outlook's own error for an unknown one."""
    user = find(ctx, tenant, key)
    if user is None:
        raise GraphApiError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
    return user


def revoke_sessions(ctx: EmulatorContext, tenant: str, user: dict[str, Any]) -> None:
    """Graph shows the second; the internal copy keeps microseconds so that a sign-in
    earlier in the same second as the revocation is revoked too (as in Entra)."""
    now = ctx.clock.now()
    user["signInSessionsValidFromDateTime"] = iso(now)
    user["_signInSessionsValidFrom"] = iso(now)[:-1] + f".{now.microsecond:06d}Z"
    ctx.store.put(tenant, KIND, user)
