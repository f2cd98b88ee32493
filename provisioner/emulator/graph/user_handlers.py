"""HTTP handlers for /users, /me, mail (messages, sendMail) and /organization.

Mail endpoints are served by Exchange behind Graph, so their errors use
Outlook's codes (``ErrorAccessDenied``, ``ErrorInvalidUser``) and paging uses
``$skip`` with a default page of 10, unlike the directory endpoints.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph import organization, users
from provisioner.emulator.graph.auth import Caller, may, require
from provisioner.emulator.graph.errors import GraphError, mailbox_access_denied, not_found
from provisioner.emulator.graph.routing import (
    ID,
    Call,
    GraphResponse,
    Router,
    collection_response,
    entity_response,
)

USER = r"/users/" + ID.format(name="user")


def _me(call: Call) -> dict[str, Any]:
    if not call.caller.delegated:
        raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    user = call.ctx.store.get(call.tenant, users.KIND, call.caller.oid)
    if user is None:
        raise not_found(call.caller.oid)
    return user


def _user_response(call: Call, user: dict[str, Any]) -> GraphResponse:
    return entity_response(
        call,
        "users",
        user,
        type_name=users.USER_TYPE,
        known=users.KNOWN_USER_PROPERTIES,
        default_select=users.USER_DEFAULT_SELECT,
    )


def list_users(call: Call) -> GraphResponse:
    require(call.caller, "users.read")
    items = call.ctx.store.list(call.tenant, users.KIND)
    return collection_response(
        call,
        "users",
        items,
        call.query(),
        type_name=users.USER_TYPE,
        known=users.KNOWN_USER_PROPERTIES,
        default_select=users.USER_DEFAULT_SELECT,
    )


def get_user(call: Call) -> GraphResponse:
    user = users.get(call.ctx, call.tenant, call.params["user"])
    signed_in_user = call.caller.delegated and user["id"] == call.caller.oid
    require(call.caller, "me.read" if signed_in_user else "users.read")
    return _user_response(call, user)


def get_me(call: Call) -> GraphResponse:
    user = _me(call)
    require(call.caller, "me.read")
    return _user_response(call, user)


def _revoke(call: Call, user: dict[str, Any]) -> GraphResponse:
    users.revoke_sessions(call.ctx, call.tenant, user)
    return GraphResponse(200, {"@odata.context": call.metadata("Edm.Boolean"), "value": True})


def revoke_user_sessions(call: Call) -> GraphResponse:
    user = users.get(call.ctx, call.tenant, call.params["user"])
    signed_in_user = call.caller.delegated and user["id"] == call.caller.oid
    if not (signed_in_user and may(call.caller, "me.revokeSessions")):
        require(call.caller, "users.revokeSessions")
    return _revoke(call, user)


def revoke_my_sessions(call: Call) -> GraphResponse:
    user = _me(call)
    require(call.caller, "me.revokeSessions")
    return _revoke(call, user)


# --------------------------------------------------------------------------- mail


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
    return _me(call)


def list_messages(call: Call) -> GraphResponse:
    owner = _mailbox(call)
    _check_mailbox(call.caller, owner)
    query = call.query(directory=False, max_top=1000)
    items = users.messages_of(call.ctx, call.tenant, owner)
    return collection_response(
        call,
        f"users('{owner['id']}')/messages",
        items,
        query,
        type_name=users.MESSAGE_TYPE,
        default_top=10,
        directory=False,
    )


def get_message(call: Call) -> GraphResponse:
    owner = _mailbox(call)
    _check_mailbox(call.caller, owner)
    message = users.get_message(call.ctx, call.tenant, owner, call.params["message"])
    return entity_response(call, f"users('{owner['id']}')/messages", message, type_name=users.MESSAGE_TYPE)


def send_mail(call: Call) -> GraphResponse:
    owner = _mailbox(call)
    _check_mailbox(call.caller, owner, send=True)
    users.send_mail(call.ctx, call.tenant, owner, call.request.json_object())
    return GraphResponse(202)


# --------------------------------------------------------------------------- organization


def list_organization(call: Call) -> GraphResponse:
    require(call.caller, "organization.read")
    items = call.ctx.store.list(call.tenant, organization.KIND)
    return collection_response(call, "organization", items, call.query(), type_name=organization.TYPE_NAME)


def get_organization(call: Call) -> GraphResponse:
    require(call.caller, "organization.read")
    org = call.ctx.store.get(call.tenant, organization.KIND, call.params["org"].lower())
    if org is None:
        raise not_found(call.params["org"])
    return entity_response(call, "organization", org, type_name=organization.TYPE_NAME)


def register(router: Router) -> None:
    router.add("GET", r"/users", list_users)
    router.add("GET", r"/me", get_me)
    router.add("POST", r"/me/revokeSignInSessions", revoke_my_sessions)
    router.add("POST", USER + r"/revokeSignInSessions", revoke_user_sessions)
    messages = r"(?:/mailFolders/inbox)?/messages"
    item = messages + r"/(?P<message>[^/]+)"
    for prefix in (r"/me", USER):
        router.add("GET", prefix + messages, list_messages)
        router.add("GET", prefix + item, get_message)
        router.add("POST", prefix + r"/sendMail", send_mail)
    router.add("GET", USER, get_user)
    router.add("GET", r"/organization", list_organization)
    router.add("GET", r"/organization/" + ID.format(name="org"), get_organization)
