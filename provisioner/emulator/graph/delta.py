"""Delta queries (``GET /applications/delta``, ``GET /servicePrincipals/delta``): what changed since a token.

The first call of a round returns every object and an ``@odata.deltaLink`` whose
``$deltatoken`` names a snapshot the emulator keeps (object id -> fingerprint of its
public properties, per tenant, store kind ``deltaTokens``). Following that link returns
the objects created or changed since, and ``{"id", "@removed": {"reason": ...}}`` for
those gone: ``changed`` while they wait in the deleted items (restorable), ``deleted``
once they are gone for good, as the delta query overview describes. Every answer is
one page carrying the next ``@odata.deltaLink``. Only ``$select`` may accompany the
first call (it is remembered with the token); snapshots older than seven days expire.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from provisioner.emulator.clock import iso, parse_iso
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.envelopes import project, public
from provisioner.emulator.graph.errors import GraphApiError, bad_request
from provisioner.emulator.graph.routing import Call, GraphResponse

KIND = "deltaTokens"
_SOFT_DELETED = "deleted"  # snapshot mark of an object waiting in the deleted items
TOKEN_LIFETIME = timedelta(days=7)
# `/applications/delta`, `/applications/delta()`, `/applications/microsoft.graph.delta()`.
SUFFIX = r"/(?:microsoft\.graph\.)?delta(?:\(\))?"


def _fingerprint(obj: Mapping[str, Any]) -> str:
    data = json.dumps(public(obj), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def _expired(call: Call) -> None:
    oldest = call.ctx.clock.now() - TOKEN_LIFETIME
    for record in call.ctx.store.views(call.tenant, KIND):
        if parse_iso(record["issuedDateTime"]) < oldest:
            call.ctx.store.delete(call.tenant, KIND, record["id"])


def handler(
    *,
    kind: str,
    deleted_kind: str,
    entity_set: str,
    type_name: str,
    known: frozenset[str],
    rule: str,
    shown: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> Callable[[Call], GraphResponse]:
    """The delta function of one directory collection."""

    def delta(call: Call) -> GraphResponse:
        require(call.caller, rule)
        params = {k.lower(): v for k, v in call.request.query.items()}
        unsupported = [k for k in params if k.startswith("$") and k not in ("$select", "$deltatoken")]
        if unsupported:
            raise bad_request(f"Query option '{unsupported[0]}' is not supported by this endpoint.")
        token = params.get("$deltatoken")
        previous: dict[str, str] = {}
        select_text = params.get("$select")
        if token is not None:
            record = call.ctx.store.get(call.tenant, KIND, token)
            if record is None or record.get("entitySet") != entity_set:
                raise GraphApiError(
                    400, "Request_BadRequest", "The delta token is invalid or has expired; start a new round."
                )
            previous = dict(record["snapshot"])
            select_text = record.get("select")
        select = [s.strip() for s in select_text.split(",") if s.strip()] if select_text else None
        current = {obj["id"]: obj for obj in call.ctx.store.views(call.tenant, kind)}
        snapshot = {oid: _fingerprint(obj) for oid, obj in current.items()}
        items: list[dict[str, Any]] = []
        for oid in sorted(current):
            if previous.get(oid) != snapshot[oid]:
                shown_obj = project(shown(current[oid]), select, type_name=type_name, known=known)
                items.append({"id": oid, **shown_obj})
        for oid in sorted(set(previous) - set(current)):
            if call.ctx.store.view(call.tenant, deleted_kind, oid) is not None:
                snapshot[oid] = _SOFT_DELETED  # followed until it is restored or gone for good
                if previous[oid] != _SOFT_DELETED:
                    items.append({"id": oid, "@removed": {"reason": "changed"}})
            else:
                items.append({"id": oid, "@removed": {"reason": "deleted"}})
        with call.ctx.store.transaction():
            _expired(call)
            new_token = secrets.token_urlsafe(24)
            call.ctx.store.put(
                call.tenant,
                KIND,
                {
                    "id": new_token,
                    "entitySet": entity_set,
                    "select": select_text,
                    "snapshot": snapshot,
                    "issuedDateTime": iso(call.ctx.clock.now()),
                },
            )
        context = f"{entity_set}({','.join(select)})" if select else entity_set
        link = f"{call.ctx.base_url}/v1.0/{entity_set}/delta?$deltatoken={quote(new_token)}"
        return GraphResponse(
            200, {"@odata.context": call.metadata(context), "@odata.deltaLink": link, "value": items}
        )

    return delta
