"""HTTP handlers for mail: messages of a mailbox (``/me`` or ``/users/{id|upn}``) and sendMail.

Mail endpoints are served by Exchange behind Graph, so their errors use
Outlook's codes (``ErrorAccessDenied``, ``ErrorInvalidUser``) and paging uses
``$skip`` with a default page of 10, unlike the directory endpoints.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph.auth import Caller, may
from provisioner.emulator.graph.envelopes import collection_response, entity_response
from provisioner.emulator.graph.errors import mailbox_access_denied
from provisioner.emulator.graph.mail import models as mail
from provisioner.emulator.graph.routing import Call, GraphResponse, Router
from provisioner.emulator.graph.users import models as users
from provisioner.emulator.graph.users.responses import USER, signed_in_user


def _check_mailbox(caller: Caller, owner: dict[str, Any], *, send: bool = False) -> None:
    """App tokens reach every mailbox; delegated ones their own, or others with *.Shared scopes."""
    own = "mail.send" if send else "mail.read"
    shared = "mail.sendShared" if send else "mail.readShared"
    if may(caller, own) and (not caller.delegated or owner["id"] == caller.oid):
        return
    if caller.delegated and may(caller, shared):
        return
    raise mailbox_access_denied()


def _mailbox(call: Call) -> dict[str, Any]:
    if "user" in call.params:
        return users.mailbox(call.ctx, call.tenant, call.params["user"])
    return signed_in_user(call)


def list_messages(call: Call) -> GraphResponse:
    owner = _mailbox(call)
    _check_mailbox(call.caller, owner)
    query = call.query(directory=False, max_top=1000)
    items = mail.messages_of(call.ctx, call.tenant, owner)
    return collection_response(
        call,
        f"users('{owner['id']}')/messages",
        items,
        query,
        type_name=mail.MESSAGE_TYPE,
        default_top=10,
        directory=False,
    )


def get_message(call: Call) -> GraphResponse:
    owner = _mailbox(call)
    _check_mailbox(call.caller, owner)
    message = mail.get_message(call.ctx, call.tenant, owner, call.params["message"])
    return entity_response(call, f"users('{owner['id']}')/messages", message, type_name=mail.MESSAGE_TYPE)


def send_mail(call: Call) -> GraphResponse:
    owner = _mailbox(call)
    _check_mailbox(call.caller, owner, send=True)
    mail.send_mail(call.ctx, call.tenant, owner, call.request.json_object())
    return GraphResponse(202)


def register(router: Router) -> None:
    messages = r"(?:/mailFolders/inbox)?/messages"
    item = messages + r"/(?P<message>[^/]+)"
    for prefix in (r"/me", USER):
        router.add("GET", prefix + messages, list_messages)
        router.add("GET", prefix + item, get_message)
        router.add("POST", prefix + r"/sendMail", send_mail)
