"""Mailboxes: just enough Outlook behind Graph to exercise mail permissions end to end.

Connectors provisioned by this tool read mail (``Mail.Read`` app role or
delegated scope); the emulator keeps a few messages per seeded user so a token's
permissions can be proven, and ``sendMail`` delivers to users of the tenant.
Messages are stored per tenant (kind ``messages``), linked to their mailbox's user.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime
from typing import Any

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.errors import GraphApiError, bad_request, invalid_value
from provisioner.emulator.graph.users.models import KIND as USERS

MESSAGES = "messages"
MESSAGE_TYPE = "microsoft.graph.message"


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
        raise GraphApiError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
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
            (u for u in ctx.store.list(tenant, USERS) if str(u.get("mail", "")).lower() == address.lower()),
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
