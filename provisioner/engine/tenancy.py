"""Entering a tenant: select its state folder, migrate files an older version left, and say where we are.

Every per-tenant step (plan, apply, rotate, status, destroy) calls :func:`enter_tenant`
right after it has read the tenant, because only then is the tenant ID known for
certain (a credential's home tenant, a domain resolved to its ID).
"""

from __future__ import annotations

from pathlib import Path

from provisioner.core.layout import TenantKey, migrate_legacy, tenant_dir, tenant_key, use_tenant
from provisioner.core.progress import Progress, print_progress
from provisioner.core.text import printable
from provisioner.graph.target import Target


def enter_tenant(
    target: Target, tenant_id: str | None, state_dir: Path, progress: Progress | None = None
) -> TenantKey | None:
    """Select this tenant's folder for the rest of the task and announce the target on stderr.

    The announcement goes to stderr even with ``--json`` (stdout stays one JSON document):
    a reader of any run's log can tell which tenant and endpoint it changed.
    """
    key = tenant_key(target.cloud, tenant_id or target.tenant_id, local=target.is_local)
    use_tenant(key)
    say = progress or print_progress
    say(printable(f"tenant {key or '?'} at {target.graph_url}", one_line=True))
    if key is not None:
        moved = migrate_legacy(state_dir, key)
        if moved:
            say(
                f"moved {len(moved)} connection file(s) written by an earlier version to "
                f"{tenant_dir(state_dir, key)}"
            )
    return key
