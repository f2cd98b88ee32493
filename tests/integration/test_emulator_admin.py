"""The emulator's own controls are not for anyone on the machine or the network: admin routes need
the admin token, the movable clock stays in range, and nothing but loopback is served without asking."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
from oauth_support import client_credentials_form

from provisioner.emulator import EmulatorError, RunningEmulator, start_emulator
from provisioner.emulator.clock import LATEST
from provisioner.emulator.server import is_loopback

ADMIN_CALLS = [
    ("GET", "/_emulator/clock", None),
    ("POST", "/_emulator/clock", {"advance_seconds": 86400}),
    ("GET", "/_emulator/counters", None),
    ("DELETE", "/_emulator/counters", None),
    ("GET", "/_emulator/tenants", None),
    ("POST", "/_emulator/tenants", {"tenant_id": "11111111-2222-3333-4444-555555555555"}),
    ("GET", "/_emulator/faults", None),
    ("PUT", "/_emulator/faults", {"error_rate": 1.0}),
    ("GET", "/_emulator/no-such-route", None),
]


def _client(emulator: RunningEmulator) -> httpx.Client:
    return httpx.Client(verify=emulator.ssl_context(), base_url=emulator.base_url, trust_env=False)


# -- admin token --------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer not-the-token", "Basic dXNlcjpwYXNz", "Bearer"])
def test_admin_routes_refuse_requests_without_the_admin_token(
    tmp_emulator: RunningEmulator, authorization: str | None
) -> None:
    emulator = tmp_emulator
    headers = {"Authorization": authorization} if authorization is not None else {}
    before_offset = emulator.ctx.clock.offset_seconds
    with _client(emulator) as http:
        http.get(f"/{emulator.tenant.tenant_id}/v2.0/.well-known/openid-configuration")  # counts a request
        for method, path, body in ADMIN_CALLS:
            answer = http.request(method, path, json=body, headers=headers)
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.headers["content-type"].startswith("application/json")
            assert answer.json()["error"]["code"] == "Unauthorized"
            assert "PROVISIONER_EMULATOR_ADMIN_TOKEN" in answer.json()["error"]["message"]
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert (
                emulator.admin_token not in answer.text
                and emulator.tenant.admin_client_secret not in answer.text
            )
    # Nothing happened: clock, counters, faults and tenants are as they were.
    assert emulator.ctx.clock.offset_seconds == before_offset
    assert emulator.ctx.counters.get("requests", 0) >= 1
    assert emulator.ctx.faults.error_rate == 0
    assert emulator.ctx.store.tenants() == [emulator.tenant.tenant_id]


def test_admin_routes_answer_with_the_admin_token(tmp_emulator: RunningEmulator) -> None:
    emulator = tmp_emulator
    assert emulator.admin_headers() == {"Authorization": f"Bearer {emulator.admin_token}"}
    assert emulator.env()["PROVISIONER_EMULATOR_ADMIN_TOKEN"] == emulator.admin_token
    with _client(emulator) as http:
        tenants = http.get("/_emulator/tenants", headers=emulator.admin_headers())
        assert tenants.status_code == 200
        assert [t["tenant_id"] for t in tenants.json()] == [emulator.tenant.tenant_id]
        lower_scheme = {"Authorization": f"bearer {emulator.admin_token}"}
        assert http.get("/_emulator/counters", headers=lower_scheme).status_code == 200


def test_health_is_the_only_open_admin_route(emulator: RunningEmulator) -> None:
    with _client(emulator) as http:
        health = http.get("/_emulator/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert http.post("/_emulator/health").status_code == 401  # only GET is open


def test_admin_token_is_new_for_every_start_and_never_in_a_repr(tmp_path: Path) -> None:
    state = tmp_path / "state" / "emulator.db"
    with start_emulator(state_path=state) as first:
        token = first.admin_token
        assert len(token) >= 32
        assert token not in repr(first) and token not in repr(first.ctx)
    with start_emulator(state_path=state) as second, _client(second) as http:
        assert second.admin_token != token
        stale = http.get("/_emulator/tenants", headers={"Authorization": f"Bearer {token}"})
        assert stale.status_code == 401


# -- the movable clock ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"advance_seconds": 1e12}',  # ~31,700 years: past year 9999
        b'{"advance_seconds": -2000000000}',  # ~63 years back: before 1970
        b'{"advance_seconds": 1' + b"0" * 40 + b"}",  # too big for a timedelta at all
        b'{"advance_seconds": NaN}',
        b'{"advance_seconds": Infinity}',
    ],
)
def test_a_clock_move_out_of_range_is_400_and_changes_nothing(
    tmp_emulator: RunningEmulator, body: bytes
) -> None:
    emulator = tmp_emulator
    admin = {**emulator.admin_headers(), "Content-Type": "application/json"}
    tenant = emulator.tenant
    with _client(emulator) as http:
        before = http.get("/_emulator/clock", headers=admin).json()
        refused = http.post("/_emulator/clock", content=body, headers=admin)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "BadRequest"
        after = http.get("/_emulator/clock", headers=admin)
        assert after.status_code == 200 and after.json()["offset_seconds"] == before["offset_seconds"]
        # Later requests keep working: identity, Graph, and a legitimate move.
        token = http.post(
            f"/{tenant.tenant_id}/oauth2/v2.0/token",
            data=client_credentials_form(tenant.admin_client_id, tenant.admin_client_secret),
        )
        assert token.status_code == 200, token.text
        organization = http.get(
            "/v1.0/organization", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )
        assert organization.status_code == 200 and organization.headers["date"]
        moved = http.post("/_emulator/clock", json={"advance_seconds": 3600}, headers=admin)
        assert moved.status_code == 200 and moved.json()["offset_seconds"] == before["offset_seconds"] + 3600


def test_the_clock_may_go_right_up_to_the_end_of_year_9999(tmp_emulator: RunningEmulator) -> None:
    emulator = tmp_emulator
    admin = emulator.admin_headers()
    seconds_left = int((LATEST - emulator.ctx.clock.now()).total_seconds()) - 60
    with _client(emulator) as http:
        moved = http.post("/_emulator/clock", json={"advance_seconds": seconds_left}, headers=admin)
        assert moved.status_code == 200 and moved.json()["now"].startswith("9999-12-31T23:")
        assert http.post("/_emulator/clock", json={"advance_seconds": 3600}, headers=admin).status_code == 400
        date = parsedate_to_datetime(http.get("/_emulator/health").headers["date"])
        assert (date.year, date.month, date.day) == (9999, 12, 31)


# -- bind address -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.0.2.10", False),
        ("emulator.example", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_start_emulator_refuses_a_non_loopback_bind(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError, match=r"refusing to listen on '0\.0\.0\.0'.*--allow-remote"):
        start_emulator(host="0.0.0.0", data_dir=tmp_path / "tls")
    assert not (tmp_path / "tls").exists()  # refused before anything was created
