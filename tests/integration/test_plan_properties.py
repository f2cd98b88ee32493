"""Property: for any valid manifest, plan after apply is empty (and a second apply does nothing).

Hypothesis generates apps with random subsets of real catalogue permissions
(delegated and application, with or without admin consent), redirect URIs of
every platform, audiences and secrets; each example is applied against the
emulator with the real SDK and planned again. Example counts stay small: each
one is a full apply.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reliability_support import fresh_tenant, inventory, target_for

from provisioner.data import load_catalog

pytestmark = pytest.mark.slow

_CATALOG = load_catalog("graph")
SCOPES = sorted(s["value"] for s in _CATALOG["oauth2PermissionScopes"] if (s.get("privilegeLevel") or 0) < 4)
ROLES = sorted(r["value"] for r in _CATALOG["appRoles"] if (r.get("privilegeLevel") or 0) < 4)
WEB = ["https://app.example.com/auth/callback", "https://example.org/signin-oidc", "http://localhost:8400/cb"]
SPA = ["https://spa.example.com/", "http://localhost:3000"]
PUBLIC = ["http://localhost:9999/Callback", "myapp://auth"]
_names = itertools.count()


@st.composite
def apps(draw: st.DrawFn) -> dict[str, Any]:
    audience = draw(st.sampled_from(["single-tenant", "multi-tenant", "multi-tenant-and-personal"]))
    permissions: dict[str, Any] = {}
    delegated = draw(st.lists(st.sampled_from(SCOPES), max_size=5, unique=True))
    application = draw(st.lists(st.sampled_from(ROLES), max_size=3, unique=True))
    if delegated or application:
        permissions["Microsoft Graph"] = {
            k: v for k, v in (("delegated", delegated), ("application", application)) if v
        }
    secrets = [
        {"name": name, "expires_in": draw(st.sampled_from(["90d", "180d", "12mo"]))}
        for name in draw(st.lists(st.sampled_from(["primary", "backup"]), max_size=2, unique=True))
    ]
    app: dict[str, Any] = {
        "name": f"prop-{next(_names)}-{draw(st.integers(0, 9999))}",
        "display_name": draw(st.text("abcdefghij XYZ", min_size=1, max_size=30)).strip() or "x",
        "audience": audience,
        "redirect_uris": {
            "web": draw(st.lists(st.sampled_from(WEB), max_size=2, unique=True)),
            "spa": draw(st.lists(st.sampled_from(SPA), max_size=1, unique=True)),
            "public_client": draw(st.lists(st.sampled_from(PUBLIC), max_size=2, unique=True)),
        },
        "implicit_grant": {"access_tokens": draw(st.booleans()), "id_tokens": draw(st.booleans())},
        "allow_public_client_flows": draw(st.booleans()),
        "permissions": permissions,
        "admin_consent": draw(st.booleans()),
        "secrets": secrets,
    }
    return app


@pytest.fixture(scope="module")
def property_tenant(emulator: Any) -> Any:
    return fresh_tenant(emulator)


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=st.lists(apps(), min_size=1, max_size=2))
def test_plan_after_apply_is_empty(
    drawn: list[dict[str, Any]], emulator: Any, property_tenant: Any, tmp_path: Path
) -> None:
    from provisioner.engine.options import RunOptions
    from provisioner.engine.workflow import apply_in, plan_in
    from provisioner.manifest import validate_paths

    folder = tmp_path / f"m{next(_names)}"
    folder.mkdir()
    path = folder / "apps.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "apps": drawn}, sort_keys=False))
    result = validate_paths([str(path)])
    assume(not result.errors)  # the strategy aims at valid manifests; the validator is the judge
    target = target_for(emulator, property_tenant)
    loaded = list(result.apps)
    state_dir = folder / ".provisioner"

    async def converge() -> tuple[Any, Any, Any]:
        options = RunOptions(state_dir=state_dir, base_dir=folder)
        first = await apply_in(target, loaded, options, lambda p: True)
        plan = await plan_in(target, loaded, options, [])
        second = await apply_in(target, loaded, options, lambda p: True)
        return first, plan, second

    first, plan, second = asyncio.run(converge())
    assert first.actions_done > 0
    assert plan.is_empty, [a.summary for a in plan.actions]
    assert second.actions_done == 0
    assert not inventory(emulator, property_tenant.tenant_id).duplicates()
