"""``emulator serve --log-requests``: one line per request, and nothing secret in it."""

from __future__ import annotations

import io
import re

from starlette.testclient import TestClient

from provisioner.emulator.app import build_app
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.seed import ensure_tenant
from provisioner.emulator.server import RequestLog
from provisioner.emulator.store import Store

BASE = "https://localhost:8443"
LINE = re.compile(r"^(GET|POST|PATCH|DELETE) (\S+) (\d{3}) \d+\.\dms$")


def test_one_line_per_request_without_queries_headers_or_bodies() -> None:
    ctx = EmulatorContext(store=Store(None), base_url=BASE)
    tenant = ensure_tenant(ctx)
    out = io.StringIO()
    client = TestClient(RequestLog(build_app(ctx), out), base_url=BASE)
    form = {
        "grant_type": "client_credentials",
        "client_id": tenant.admin_client_id,
        "client_secret": tenant.admin_client_secret,
        "scope": "https://graph.microsoft.com/.default",
    }
    token = client.post(f"{BASE}/{tenant.tenant_id}/oauth2/v2.0/token", data=form).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    client.get(f"{BASE}/v1.0/applications?$filter=displayName eq 'p4ssw0rd-in-query'", headers=headers)
    client.get(f"{BASE}/v1.0/no%1bSuchThing", headers=headers)
    client.get(f"{BASE}/v1.0/applications")
    lines = out.getvalue().splitlines()
    assert [LINE.match(line).groups() for line in lines] == [  # type: ignore[union-attr]
        ("POST", f"/{tenant.tenant_id}/oauth2/v2.0/token", "200"),
        ("GET", "/v1.0/applications", "200"),
        ("GET", "/v1.0/no%1bSuchThing", "400"),  # still encoded: no control character reaches a terminal
        ("GET", "/v1.0/applications", "401"),
    ]
    log = out.getvalue()
    for secret in (tenant.admin_client_secret, token, "p4ssw0rd", ctx.admin_token):
        assert secret not in log
