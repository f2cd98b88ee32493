"""HTTP handlers for /users and /me (read, revokeSignInSessions)."""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph.auth import may, require
from provisioner.emulator.graph.envelopes import collection_response, count_response, entity_response
from provisioner.emulator.graph.errors import GraphApiError, not_found
from provisioner.emulator.graph.routing import ID, Call, GraphResponse, Router
from provisioner.emulator.graph.users import models as users

USER = r"/users/" + ID.format(name="user")


def signed_in_user(call: Call) -> dict[str, Any]:
    if not call.caller.delegated:
        raise GraphApiError(
            400, "BadRequest", "/me request is only valid with delegated authentication flow."
        )
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


def count_users(call: Call) -> GraphResponse:
    require(call.caller, "users.read")
    return count_response(call, len(call.ctx.store.views(call.tenant, users.KIND)))


def get_me(call: Call) -> GraphResponse:
    user = signed_in_user(call)
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
    user = signed_in_user(call)
    require(call.caller, "me.revokeSessions")
    return _revoke(call, user)


def register(router: Router) -> None:
    router.add("GET", r"/users/\$count", count_users)
    router.add("GET", r"/users", list_users)
    router.add("GET", r"/me", get_me)
    router.add("POST", r"/me/revokeSignInSessions", revoke_my_sessions)
    router.add("POST", USER + r"/revokeSignInSessions", revoke_user_sessions)
    router.add("GET", USER, get_user)
