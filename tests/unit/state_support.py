"""The fixed tenant the pure plan/export tests diff against: one set of resource service principals.

Shared so that plan and export cases describe the same Microsoft Graph / Exchange
resources (real permission IDs from the catalogue, fixed object IDs) and the same "now".
"""

from __future__ import annotations

from datetime import UTC, datetime

from provisioner.model.catalog import EXCHANGE_APP_ID, GRAPH_APP_ID, resources
from provisioner.model.tenant import ResourceSP

NOW = datetime(2026, 3, 1, tzinfo=UTC)
TENANT = "11111111-1111-1111-1111-111111111111"
SP_IDS = {
    GRAPH_APP_ID: "aaaaaaaa-0000-0000-0000-000000000001",
    EXCHANGE_APP_ID: "aaaaaaaa-0000-0000-0000-000000000002",
}
RESOURCES = {
    r.app_id: ResourceSP(
        id=SP_IDS[r.app_id],
        app_id=r.app_id,
        display_name=r.display_name,
        scopes={v: p.id for v, p in r.scopes.items()},
        roles={v: p.id for v, p in r.roles.items()},
    )
    for r in resources()
}
GRAPH = RESOURCES[GRAPH_APP_ID]
