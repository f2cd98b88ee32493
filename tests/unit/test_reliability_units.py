"""Pure pieces of the reliability work: retry policy, Retry-After parsing, replay rules, fault settings,
the per-caller token bucket, the permission table, and the apply lock."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from provisioner.core.errors import ProvisionerError
from provisioner.core.locking import apply_lock
from provisioner.emulator.faults import FaultConfig, _Runtime, caller_key, format_retry_after
from provisioner.graph import least_privilege as lp
from provisioner.graph.http_retry import replayable
from provisioner.graph.retry import RetryPolicy, describe_wait, is_replication_lag, parse_retry_after

# ---------------------------------------------------------------- retry policy


def test_policy_from_env_defaults_and_overrides() -> None:
    assert RetryPolicy.from_env({}) == RetryPolicy()
    policy = RetryPolicy.from_env(
        {
            "PROVISIONER_MAX_RETRIES": "2",
            "PROVISIONER_RETRY_MAX_WAIT": "7.5",
            "PROVISIONER_REPLICATION_TIMEOUT": "90",
        }
    )
    assert (policy.max_retries, policy.max_wait, policy.replication_timeout) == (2, 7.5, 90.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROVISIONER_MAX_RETRIES", "1.5"),
        ("PROVISIONER_RETRY_MAX_WAIT", "soon"),
        ("PROVISIONER_MAX_RETRIES", "-1"),
    ],
)
def test_policy_rejects_bad_env_values_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ProvisionerError, match=name):
        RetryPolicy.from_env({name: value})


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=0.5, max_wait=4)
    rng = random.Random(1)
    for attempt in range(1, 12):
        ceiling = min(4, 0.5 * 2 ** (attempt - 1))
        waits = {policy.backoff(attempt, rng) for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jitter
    assert policy.delay_after(3.0, 1, rng) >= 3.0  # Retry-After is a floor, never shortened


def test_parse_retry_after_seconds_fractions_dates_and_garbage() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("2.128") == pytest.approx(2.128)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after("-4") == 0.0
    for bad in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(bad) is None


def test_wait_lines_say_how_long_what_and_where() -> None:
    line = describe_wait(2.14, {"Graph throttling (429)": 1}, "create service principal")
    assert line == "waited 2.1 s for Graph throttling (429) on create service principal"
    two = describe_wait(1.0, {"Graph throttling (429)": 2, "Graph unavailable (503)": 1}, "x")
    assert two == "waited 1.0 s for Graph throttling (429) x2, Graph unavailable (503) on x"


@pytest.mark.parametrize(
    ("method", "url", "body", "replay"),
    [
        ("GET", "/v1.0/applications", None, True),
        ("PATCH", "/v1.0/applications(uniqueName='a')", b"{}", True),
        ("DELETE", "/v1.0/oauth2PermissionGrants/x", None, True),
        ("POST", "/v1.0/oauth2PermissionGrants", b'{"scope":"User.Read"}', True),
        ("POST", "/v1.0/applications/1/addPassword", b"{}", False),
        ("POST", "/v1.0/$batch", b'{"requests":[{"url":"/applications/1/addPassword"}]}', False),
        ("POST", "/v1.0/$batch", b'{"requests":[{"url":"/applications"}]}', True),
    ],
)
def test_ambiguous_failures_replay_only_harmless_requests(
    method: str, url: str, body: bytes | None, replay: bool
) -> None:
    request = httpx.Request(method, "https://graph.example" + url, content=body)
    assert replayable(request) is replay


def _api_error(status: int, message: str) -> Exception:
    error = Exception(message)
    error.response_status_code = status  # type: ignore[attr-defined]
    error.error = SimpleNamespace(code="Request_BadRequest", message=message)  # type: ignore[attr-defined]
    return error


def test_replication_lag_recognised_narrowly() -> None:
    assert is_replication_lag(_api_error(404, "Resource 'x' does not exist"))
    assert is_replication_lag(
        _api_error(
            400, "The appId 'x' of the service principal does not reference a valid application object."
        )
    )
    assert is_replication_lag(
        _api_error(400, "Invalid value specified for property 'clientId' of resource 'X'.")
    )
    assert not is_replication_lag(
        _api_error(
            400, "Invalid value specified for property 'passwordCredentials' of resource 'Application'."
        )
    )
    assert not is_replication_lag(_api_error(403, "Insufficient privileges to complete the operation."))


# ---------------------------------------------------------------- fault settings


def test_fault_config_json_round_trip_and_validation() -> None:
    config = FaultConfig.from_json({"latency_ms": 5, "throttle_probability": 0.2, "seed": 3})
    assert FaultConfig.from_json(config.to_json()) == config
    assert config.active and config.throttles
    assert not FaultConfig(replication_lag_ms=100).active  # lag is the Graph layer's
    for bad, why in (
        ({"error_rate": 1.5}, "error_rate must be between 0 and 1"),
        ({"latency_ms": -1}, "latency_ms must be a non-negative number"),
        ({"seed": "x"}, "seed must be an integer"),
        ({"bogus": 1}, "unknown fault setting"),
        ({"timeout_rate": True}, "timeout_rate must be a non-negative number"),
    ):
        with pytest.raises(ValueError, match=why):
            FaultConfig.from_json(bad)


def test_token_bucket_is_per_caller() -> None:
    config = FaultConfig(throttle_rate_per_s=0.001, throttle_burst=2)
    runtime = _Runtime(seed=None)
    assert [runtime.take_token(config, "app-a") for _ in range(2)] == [0.0, 0.0]
    assert runtime.take_token(config, "app-a") > 0  # empty: wait for a refill
    assert runtime.take_token(config, "app-b") == 0.0  # another caller's bucket is full


def test_seeded_faults_replay_identically() -> None:
    first, second = _Runtime(seed=42), _Runtime(seed=42)
    assert [first.chance(0.3) for _ in range(50)] == [second.chance(0.3) for _ in range(50)]


def test_caller_key_reads_appid_without_verifying() -> None:
    import base64
    import json

    payload = base64.urlsafe_b64encode(json.dumps({"appid": "abc"}).encode()).rstrip(b"=").decode()
    assert caller_key({"authorization": f"Bearer h.{payload}.s"}) == "abc"
    assert caller_key({"authorization": "Bearer nonsense"}) == "-"
    assert caller_key({}) == "-"


def test_retry_after_header_format() -> None:
    assert format_retry_after(1.0) == "1" and format_retry_after(2.2) == "3"
    assert format_retry_after(0.05) == "0.050"


# ---------------------------------------------------------------- permission table


def _app(**kw: object) -> SimpleNamespace:
    base: dict[str, object] = {"app_id": None, "adopt": False, "admin_consent": False, "permissions": {}}
    return SimpleNamespace(**(base | kw))


def test_needs_follow_the_manifest() -> None:
    perms = SimpleNamespace
    plain = _app(permissions={"g": perms(delegated=["User.Read"], application=["Mail.Send"])})
    assert lp.minimal_set(lp.needs_for_apps([plain])) == ["Application.ReadWrite.OwnedBy"]
    delegated = _app(admin_consent=True, permissions={"g": perms(delegated=["User.Read"], application=[])})
    application = _app(admin_consent=True, permissions={"g": perms(delegated=[], application=["Mail.Send"])})
    assert lp.minimal_set(lp.needs_for_apps([delegated])) == [
        "Application.ReadWrite.OwnedBy",
        "DelegatedPermissionGrant.ReadWrite.All",
    ]
    assert lp.minimal_set(lp.needs_for_apps([application, _app(adopt=True)])) == [
        "Application.ReadWrite.All",
        "AppRoleAssignment.ReadWrite.All",
    ]


@pytest.mark.parametrize(
    ("method", "path", "need"),
    [
        ("GET", "/servicePrincipals", lp.READ),
        ("GET", "/organization", lp.READ_ORGANIZATION),
        ("PATCH", "/applications(uniqueName='x')", lp.CREATE_APP),
        ("POST", "/applications/1/addPassword", lp.UPDATE_APP),
        ("PATCH", "/servicePrincipals(appId='x')", lp.CREATE_SP),
        ("POST", "/oauth2PermissionGrants", lp.GRANT_DELEGATED),
        ("POST", "/servicePrincipals/1/appRoleAssignedTo", lp.GRANT_APPLICATION),
        ("POST", "/applications/1/owners/$ref", lp.ADD_OWNER),
    ],
)
def test_a_refused_request_maps_to_the_permission_it_needed(method: str, path: str, need: lp.Need) -> None:
    assert lp.need_for_request(method, path) is need


def test_need_satisfied_by_higher_privileged_or_delegated_equivalents() -> None:
    assert lp.CREATE_APP.satisfied_by({"Application.ReadWrite.All"})
    assert not lp.CREATE_APP.satisfied_by({"Application.Read.All"})
    assert lp.GRANT_DELEGATED.satisfied_by({"Directory.AccessAsUser.All"}, delegated=True)
    assert not lp.GRANT_DELEGATED.satisfied_by({"Directory.AccessAsUser.All"})


# ---------------------------------------------------------------- apply lock


def test_second_apply_waits_for_the_first_and_says_so(tmp_path: Path) -> None:
    waiting = threading.Event()
    acquired = threading.Event()
    messages: list[str] = []

    def second() -> None:
        def progress(message: str) -> None:
            messages.append(message)
            waiting.set()

        with apply_lock(tmp_path, progress):
            acquired.set()

    with apply_lock(tmp_path):
        thread = threading.Thread(target=second)
        thread.start()
        assert waiting.wait(10)
        assert not acquired.is_set()
    thread.join(10)
    assert acquired.is_set()
    assert messages and "waiting for another run (pid" in messages[0]
