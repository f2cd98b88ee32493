"""Users and their mailboxes: just enough directory and Outlook to exercise mail permissions.

Connectors provisioned by this tool read mail (``Mail.Read`` app role or
delegated scope); the emulator keeps a few messages per seeded user so a
token's permissions can be proven end to end. ``revokeSignInSessions`` moves
``signInSessionsValidFromDateTime``, which the token endpoint compares refresh
tokens against (AADSTS50173).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime
from typing import Any

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.errors import GraphError, bad_request, invalid_value, not_found
from provisioner.emulator.graph.ids import is_guid, new_id

KIND = "users"
MESSAGES = "messages"
USER_TYPE = "microsoft.graph.user"
MESSAGE_TYPE = "microsoft.graph.message"
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
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
    return user


def revoke_sessions(ctx: EmulatorContext, tenant: str, user: dict[str, Any]) -> None:
    """Graph shows the second; the internal copy keeps microseconds so that a sign-in
    earlier in the same second as the revocation is revoked too (as in Entra)."""
    now = ctx.clock.now()
    user["signInSessionsValidFromDateTime"] = iso(now)
    user["_signInSessionsValidFrom"] = iso(now)[:-1] + f".{now.microsecond:06d}Z"
    ctx.store.put(tenant, KIND, user)


# --------------------------------------------------------------------------- messages


def _message_id() -> str:
    raw = b"\x00\x00" + uuid.uuid4().bytes + secrets.token_bytes(30)
    return "AAMkA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _address(name: str | None, address: str) -> dict[str, Any]:
    return {"emailAddress": {"name": name or address, "address": address}}


def new_message(
    owner: dict[str, Any],
    *,
    subject: str,
    content: str,
    sender: tuple[str | None, str],
    to: list[str],
    received: datetime,
    is_read: bool = False,
) -> dict[str, Any]:
    when = iso(received)
    message_id = _message_id()
    return {
        "id": message_id,
        "createdDateTime": when,
        "lastModifiedDateTime": when,
        # Shaped like Exchange change keys ("CQAAABYAAAA…"); never starts with "_" either.
        "changeKey": "CQAAABYAAAA" + secrets.token_urlsafe(12),
        "categories": [],
        "receivedDateTime": when,
        "sentDateTime": when,
        "hasAttachments": False,
        "internetMessageId": f"<{uuid.uuid4().hex}@{sender[1].split('@')[-1]}>",
        "subject": subject,
        "bodyPreview": content[:255],
        "importance": "normal",
        "parentFolderId": "inbox",
        "conversationId": "AAQkA" + secrets.token_urlsafe(24),
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "isRead": is_read,
        "isDraft": False,
        "webLink": f"https://outlook.office365.com/owa/?ItemID={message_id}&exvsurl=1&viewmodel=ReadMessageItem",
        "inferenceClassification": "focused",
        "body": {"contentType": "text", "content": content},
        "sender": _address(*sender),
        "from": _address(*sender),
        "toRecipients": [_address(None, a) for a in to],
        "ccRecipients": [],
        "bccRecipients": [],
        "replyTo": [],
        "flag": {"flagStatus": "notFlagged"},
        "_mailbox": owner["id"],
    }


def messages_of(ctx: EmulatorContext, tenant: str, user: dict[str, Any]) -> list[dict[str, Any]]:
    """Newest first, the order Outlook lists a folder in."""
    items = ctx.store.find(tenant, MESSAGES, _mailbox=user["id"])
    return sorted(items, key=lambda m: m["receivedDateTime"], reverse=True)


def get_message(ctx: EmulatorContext, tenant: str, user: dict[str, Any], message_id: str) -> dict[str, Any]:
    message = ctx.store.get(tenant, MESSAGES, message_id)
    if message is None or message.get("_mailbox") != user["id"]:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return message


def send_mail(ctx: EmulatorContext, tenant: str, sender: dict[str, Any], body: dict[str, Any]) -> None:
    """sendMail: delivers to recipients that are users of the tenant (others are dropped)."""
    message = body.get("message")
    if not isinstance(message, dict):
        raise bad_request("Required property 'message' is missing.", code="ErrorInvalidRequest")
    recipients = [
        r.get("emailAddress", {}).get("address")
        for r in (message.get("toRecipients") or []) + (message.get("ccRecipients") or [])
        if isinstance(r, dict)
    ]
    if not recipients or not all(isinstance(a, str) and "@" in a for a in recipients):
        raise invalid_value("toRecipients", "Message")
    content = (message.get("body") or {}).get("content") or ""
    for address in recipients:
        target = next(
            (u for u in ctx.store.list(tenant, KIND) if str(u.get("mail", "")).lower() == address.lower()),
            None,
        )
        if target is None:
            continue
        delivered = new_message(
            target,
            subject=str(message.get("subject") or ""),
            content=str(content),
            sender=(sender.get("displayName"), sender["mail"]),
            to=[address],
            received=ctx.clock.now(),
        )
        ctx.store.put(tenant, MESSAGES, delivered)
