"""``servicePrincipals/{id}/addPassword``, ``removePassword`` and ``addKey``: credentials of the principal itself.

Same rules as the application actions (:mod:`.applications.credentials`,
:mod:`.applications.key_rollover`) on the service principal's own
passwordCredentials/keyCredentials: the secret value is returned once, only its
SHA-256 is kept; ``addKey`` needs a proof signed with one of the principal's valid
certificates (``iss`` = its object id); the tenant default app management policy's
``servicePrincipalRestrictions`` apply.
"""

from __future__ import annotations

from provisioner.emulator.graph.applications import credentials, key_rollover
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.errors import bad_request
from provisioner.emulator.graph.lookups import service_principal_in_path
from provisioner.emulator.graph.routing import SP, Call, GraphResponse, Router
from provisioner.emulator.graph.service_principals import models as service_principals
from provisioner.emulator.store import thaw


def add_password(call: Call) -> GraphResponse:
    sp = thaw(service_principal_in_path(call))  # a private copy: the store hands out read-only views
    require(call.caller, "servicePrincipals.write", owners=sp.get("_owners", []))
    sp.setdefault("passwordCredentials", [])
    cred = call.request.json_object().get("passwordCredential") or {}
    if not isinstance(cred, dict):
        raise bad_request("Invalid value specified for property 'passwordCredential'.")
    entry = credentials.add_password(
        call.ctx,
        call.tenant,
        sp,
        cred,
        kind=service_principals.KIND,
        resource=service_principals.RESOURCE,
        sp=True,
    )
    return GraphResponse(
        200, {"@odata.context": call.metadata("microsoft.graph.passwordCredential"), **entry}
    )


def remove_password(call: Call) -> GraphResponse:
    sp = thaw(service_principal_in_path(call))  # a private copy: the store hands out read-only views
    require(call.caller, "servicePrincipals.write", owners=sp.get("_owners", []))
    sp.setdefault("passwordCredentials", [])
    key_id = call.request.json_object().get("keyId")
    credentials.remove_password(call.ctx, call.tenant, sp, key_id, kind=service_principals.KIND)
    return GraphResponse(204)


def add_key(call: Call) -> GraphResponse:
    sp = thaw(service_principal_in_path(call))  # a private copy: the store hands out read-only views
    # a principal may roll its own keys without a permission (as an application may, addKey docs)
    if call.caller.delegated or call.caller.app_id.lower() != str(sp.get("appId", "")).lower():
        require(call.caller, "servicePrincipals.write", owners=sp.get("_owners", []))
    body = call.request.json_object()
    entry = key_rollover.add_key(call.ctx, call.tenant, sp, body, kind=service_principals.KIND, sp=True)
    return GraphResponse(
        200, {"@odata.context": call.metadata("microsoft.graph.keyCredential"), **entry, "key": None}
    )


def register(router: Router) -> None:
    router.add("POST", SP + r"/addPassword", add_password)
    router.add("POST", SP + r"/removePassword", remove_password)
    router.add("POST", SP + r"/addKey", add_key)
