"""The ``github_secret`` sink end to end: the real CLI (subprocess), the real httpx/PyNaCl client code
over HTTPS to a loopback stand-in of GitHub's REST API (``github_standin``), the emulator for Entra.

The stand-in opens every sealed box it receives, so the tests assert the value a workflow would see
as ``secrets.NAME``. Each failure case checks the exit code, the one-line message, and the live
secrets in Entra before and after (a failed delivery never leaves a secret nobody holds).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_support import base_env, ok, run_cli
from github_standin import GithubStandIn, RunningStandIn, start_standin

from provisioner.emulator import RunningEmulator

DAY = 86400
APP = "exchange-connector"
SECRET = "EXCHANGE_CONNECTOR_CLIENT_SECRET"  # the default name: <APP>_CLIENT_SECRET
RECORD = SECRET + "_KEY_ID"
TOKEN = "ghs_installation-token-for-tests"
ENV_SCOPE = "env:octo/deploy/production"
ORG_SCOPE = "org:octo"

MANIFEST = """\
version: 1
apps:
  - name: exchange-connector
    display_name: Exchange connector
    audience: single-tenant
    secrets:
      - name: connector secret
        expires_in: 90d
        rotate_before: 30d
        overlap: 7d
    sinks:
      - type: github_secret
        repository: octo/deploy
        environment: {environment}
        variables: true
        api_url: {api_url}
{more}"""

ORG_SINK = """\
      - type: github_secret
        organization: octo
        visibility: selected
        selected_repositories: [deploy]
        secret_name: CONNECTOR_SECRET
        api_url: {api_url}
"""


@pytest.fixture()
def github(tmp_path: Path) -> Iterator[RunningStandIn]:
    running = start_standin(tmp_path / "github-tls")
    running.standin.add_token(TOKEN)
    running.standin.add_repository("octo/deploy", "production")
    running.standin.add_organization("octo")
    try:
        yield running
    finally:
        running.stop()


def write_manifest(
    workdir: Path, github: RunningStandIn, *, environment: str = "production", org: bool = False
) -> None:
    (workdir / "manifests").mkdir(exist_ok=True)
    more = ORG_SINK.format(api_url=github.base_url) if org else ""
    text = MANIFEST.format(environment=environment, api_url=github.base_url, more=more)
    (workdir / "manifests" / "app.yaml").write_text(text)


@pytest.fixture()
def workdir(tmp_path: Path, github: RunningStandIn) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    write_manifest(work, github)
    return work


def cli(
    running: RunningEmulator, github: RunningStandIn, workdir: Path, *args: str, token: str = TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {
        **base_env(),
        **running.env(),
        "GITHUB_TOKEN": token,
        "PROVISIONER_GITHUB_CA_CERT": str(github.ca_cert),
    }
    return run_cli(*args, cwd=workdir, env=env, timeout=180)


def rotate(
    running: RunningEmulator, github: RunningStandIn, workdir: Path, *more: str, token: str = TOKEN
) -> subprocess.CompletedProcess[str]:
    return cli(
        running,
        github,
        workdir,
        "rotate",
        "manifests",
        "--yes",
        "--json",
        "--detailed-exitcode",
        *more,
        token=token,
    )


def connection(workdir: Path) -> dict[str, Any]:
    (path,) = workdir.glob(f".provisioner/**/connections/{APP}.json")
    return dict(json.loads(path.read_text()))


def entra_key_ids(running: RunningEmulator) -> list[str]:
    """keyIds of the app's live client secrets, read from the emulator's directory ([] without an app)."""
    apps = running.ctx.store.find(running.tenant.tenant_id, "applications", displayName="Exchange connector")
    return sorted(c["keyId"] for app in apps for c in app["passwordCredentials"])


def record(standin: GithubStandIn, scope: str = ENV_SCOPE, name: str = RECORD) -> dict[str, Any]:
    variable = standin.variable(scope, name)
    assert variable is not None, f"no variable {name} in {scope}"
    return dict(json.loads(variable["value"]))


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


@pytest.mark.slow
def test_apply_delivers_the_secret_its_keyid_record_and_the_variables(
    tmp_emulator: RunningEmulator, github: RunningStandIn, workdir: Path
) -> None:
    write_manifest(workdir, github, org=True)
    planned = ok(cli(tmp_emulator, github, workdir, "plan", "manifests"), 0, 2)
    assert f"GitHub Actions secret {SECRET} in octo/deploy environment production" in planned.stdout
    assert "organization octo (visibility selected)" in planned.stdout

    applied = ok(cli(tmp_emulator, github, workdir, "apply", "manifests", "--yes"))
    values = connection(workdir)
    standin = github.standin
    assert values["client_secret"] not in applied.stdout + applied.stderr
    # What a workflow in the production environment sees as secrets.EXCHANGE_CONNECTOR_CLIENT_SECRET:
    assert standin.secret_value(ENV_SCOPE, SECRET) == values["client_secret"]
    secret_meta = standin.scope(ENV_SCOPE).secrets[SECRET]
    assert record(standin) == {
        "key_id": values["client_secret_id"],
        "secret_updated_at": secret_meta["updated_at"],
    }
    client_id = standin.variable(ENV_SCOPE, "EXCHANGE_CONNECTOR_CLIENT_ID")
    assert client_id is not None and client_id["value"] == values["client_id"]
    tenant = standin.variable(ENV_SCOPE, "EXCHANGE_CONNECTOR_TENANT_ID")
    assert tenant is not None and tenant["value"] == tmp_emulator.tenant.tenant_id
    token_url = standin.variable(ENV_SCOPE, "EXCHANGE_CONNECTOR_TOKEN_URL")
    assert token_url is not None and token_url["value"] == values["token_url"]
    assert all(values["client_secret"] not in v["value"] for v in standin.scope(ENV_SCOPE).variables.values())
    # The organisation secret: same value, visible to the selected repository by its id.
    assert standin.secret_value(ORG_SCOPE, "CONNECTOR_SECRET") == values["client_secret"]
    org_secret = standin.scope(ORG_SCOPE).secrets["CONNECTOR_SECRET"]
    assert org_secret["visibility"] == "selected"
    assert org_secret["selected_repository_ids"] == [standin.repos["octo/deploy"]]
    assert record(standin, ORG_SCOPE, "CONNECTOR_SECRET_KEY_ID")["key_id"] == values["client_secret_id"]

    # held_key_id reads the record back: status names both GitHub secrets as holders.
    health = json.loads(ok(cli(tmp_emulator, github, workdir, "status", "manifests", "--json")).stdout)
    (row,) = health["apps"][0]["secrets"]
    assert row["key_id"] == values["client_secret_id"] and row["state"] == "current"
    assert sum(holder.startswith("GitHub Actions secret") for holder in row["held_by"]) == 2
    # A second apply mints nothing and the workflow still sees the same value, not rewritten: the
    # environment secret provably holds it already (the organisation secret is written again, its
    # visibility and repositories being part of the write).
    before = len(standin.requests)
    ok(cli(tmp_emulator, github, workdir, "apply", "manifests", "--yes"))
    assert entra_key_ids(tmp_emulator) == [values["client_secret_id"]]
    assert standin.secret_value(ENV_SCOPE, SECRET) == values["client_secret"]
    assert standin.scope(ENV_SCOPE).secrets[SECRET]["updated_at"] == secret_meta["updated_at"]
    puts = [path for method, path in standin.requests[before:] if method == "PUT"]
    assert not any(path.endswith(f"/environments/production/secrets/{SECRET}") for path in puts), puts
    assert any(path.endswith("/secrets/CONNECTOR_SECRET") for path in puts), puts


@pytest.mark.slow
def test_rotation_keeps_the_old_secret_while_the_github_secret_provenance_is_unknown(
    tmp_emulator: RunningEmulator, github: RunningStandIn, workdir: Path
) -> None:
    standin = github.standin
    ok(cli(tmp_emulator, github, workdir, "apply", "manifests", "--yes"))
    old = connection(workdir)

    tmp_emulator.ctx.clock.advance(61 * DAY)  # inside rotate_before: a new secret goes to GitHub
    rotated = json.loads(ok(rotate(tmp_emulator, github, workdir), 3).stdout)
    new_id = rotated["secrets"][0]["current"]["key_id"]
    assert new_id != old["client_secret_id"]
    assert standin.secret_value(ENV_SCOPE, SECRET) == connection(workdir)["client_secret"]
    assert record(standin)["key_id"] == new_id
    assert entra_key_ids(tmp_emulator) == sorted([old["client_secret_id"], new_id])

    # Someone pastes the old value into the GitHub secret a second later: what it holds is unknown
    # now, so past the overlap the old secret is not retired (it might be the one workflows use).
    standin.advance(1)
    standin.put_secret(ENV_SCOPE, SECRET, old["client_secret"])
    tmp_emulator.ctx.clock.advance(8 * DAY)
    kept = rotate(tmp_emulator, github, workdir)
    report = json.loads(kept.stdout)
    assert report["secrets"][0]["removed"] == [], kept.stdout
    assert entra_key_ids(tmp_emulator) == sorted([old["client_secret_id"], new_id])
    health = json.loads(cli(tmp_emulator, github, workdir, "status", "manifests", "--json").stdout)
    errors = [s["error"] for s in health["apps"][0]["sinks"] if s["error"]]
    assert len(errors) == 1 and "which secret it holds is unknown" in errors[0]
    assert old["client_secret"] not in kept.stdout + kept.stderr
    # Without the keyId record the secret is just as unknown (not "held by nobody").
    del standin.scope(ENV_SCOPE).variables[RECORD]
    still = json.loads(rotate(tmp_emulator, github, workdir).stdout)
    assert still["secrets"][0]["removed"] == []
    assert entra_key_ids(tmp_emulator) == sorted([old["client_secret_id"], new_id])

    # apply delivers the current value again and records its keyId: the old secret retires.
    ok(cli(tmp_emulator, github, workdir, "apply", "manifests", "--yes"))
    assert standin.secret_value(ENV_SCOPE, SECRET) == connection(workdir)["client_secret"]
    assert record(standin)["key_id"] == new_id
    retired = json.loads(ok(rotate(tmp_emulator, github, workdir), 3).stdout)
    assert [r["key_id"] for r in retired["secrets"][0]["removed"]] == [old["client_secret_id"]]
    assert entra_key_ids(tmp_emulator) == [new_id]


@pytest.mark.slow
def test_a_rejected_token_changes_nothing(
    tmp_emulator: RunningEmulator, github: RunningStandIn, workdir: Path
) -> None:
    ok(cli(tmp_emulator, github, workdir, "apply", "manifests", "--yes"))
    before = entra_key_ids(tmp_emulator)
    value = connection(workdir)["client_secret"]

    failed = rotate(tmp_emulator, github, workdir, "--force", token="ghp_revoked")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr and "ghp_revoked" not in failed.stdout + failed.stderr
    rejected = [
        line
        for line in error_lines(failed)
        if "GitHub rejected the token (HTTP 401: Bad credentials)" in line
    ]
    assert rejected and all(APP in line and "octo/deploy" in line for line in rejected), failed.stderr
    assert entra_key_ids(tmp_emulator) == before  # nothing minted, nothing removed
    assert github.standin.secret_value(ENV_SCOPE, SECRET) == value

    missing = rotate(tmp_emulator, github, workdir, "--force", token="")
    assert missing.returncode == 1
    assert any("no GitHub token: set GITHUB_TOKEN or GH_TOKEN" in line for line in error_lines(missing))
    assert entra_key_ids(tmp_emulator) == before


@pytest.mark.slow
def test_a_missing_environment_is_refused_before_minting(
    tmp_emulator: RunningEmulator, github: RunningStandIn, workdir: Path
) -> None:
    write_manifest(workdir, github, environment="staging")
    planned = cli(tmp_emulator, github, workdir, "plan", "manifests")
    assert planned.returncode == 1, planned.stdout + planned.stderr
    line = "environment staging does not exist in octo/deploy"
    assert line in planned.stdout + planned.stderr
    assert entra_key_ids(tmp_emulator) == []

    applied = cli(tmp_emulator, github, workdir, "apply", "manifests", "--yes")
    assert applied.returncode == 1, applied.stdout + applied.stderr
    found = [x for x in error_lines(applied) if line in x]
    assert found and all(APP in x for x in found) and "Traceback" not in applied.stderr
    assert entra_key_ids(tmp_emulator) == []  # no secret minted that nobody would hold
    assert github.standin.scope(ENV_SCOPE).secrets == {}


def _refuse_next_put(standin: GithubStandIn, kind: str) -> str:
    """Make GitHub refuse the next write of the secret; returns the line the CLI must print."""
    path = f"/secrets/{SECRET}$"
    if kind == "rate limit":
        reset = standin.rate_limit_next("PUT", path)
        when = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"GitHub rate limit reached (HTTP 403); it resets at {when}, run again then"
    if kind == "secondary rate limit":
        standin.fail_next("PUT", path, 429, headers={"retry-after": "60"}, message="secondary rate limit")
        return "GitHub secondary rate limit (HTTP 429); retry after 60 s"
    standin.fail_next("PUT", path, 403, message="Resource not accessible by integration")
    return "the token is not allowed (HTTP 403: Resource not accessible by integration)"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["rate limit", "secondary rate limit", "forbidden write"])
def test_a_refused_write_after_the_mint_takes_the_mint_back(
    tmp_emulator: RunningEmulator, github: RunningStandIn, workdir: Path, kind: str
) -> None:
    standin = github.standin
    ok(cli(tmp_emulator, github, workdir, "apply", "manifests", "--yes"))
    old = connection(workdir)
    before = entra_key_ids(tmp_emulator)

    expected = _refuse_next_put(standin, kind)
    failed = rotate(tmp_emulator, github, workdir, "--force")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    refused = [x for x in error_lines(failed) if expected in x]
    assert len(refused) == 1, failed.stderr
    assert APP in refused[0] and "octo/deploy environment production" in refused[0]
    assert "removed again" in refused[0]
    assert "Traceback" not in failed.stderr and old["client_secret"] not in failed.stdout + failed.stderr
    assert entra_key_ids(tmp_emulator) == before  # the new secret was removed again
    assert connection(workdir)["client_secret_id"] == old["client_secret_id"]
    assert standin.secret_value(ENV_SCOPE, SECRET) == old["client_secret"]
    assert record(standin)["key_id"] == old["client_secret_id"]
    if kind != "rate limit":
        return

    # Once the limit is over, the next rotation goes through.
    done = json.loads(ok(rotate(tmp_emulator, github, workdir, "--force"), 3).stdout)
    new_id = done["secrets"][0]["current"]["key_id"]
    assert standin.secret_value(ENV_SCOPE, SECRET) == connection(workdir)["client_secret"]
    assert record(standin)["key_id"] == new_id
    assert entra_key_ids(tmp_emulator) == sorted([old["client_secret_id"], new_id])


@pytest.mark.slow
def test_github_traffic_honours_https_proxy(
    tmp_emulator: RunningEmulator, github: RunningStandIn, workdir: Path
) -> None:
    from test_proxy import ConnectProxy

    with ConnectProxy() as proxy:
        env = {
            **base_env(),
            **tmp_emulator.env(),
            "GITHUB_TOKEN": TOKEN,
            "PROVISIONER_GITHUB_CA_CERT": str(github.ca_cert),
            "HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}",
            "NO_PROXY": "",
        }
        for key in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "https_proxy", "no_proxy"):
            env.pop(key, None)
        planned = run_cli("plan", "manifests", cwd=workdir, env=env, timeout=180)
    ok(planned, 0, 2)
    port = github.base_url.rsplit(":", 1)[1]
    assert proxy.tunnels[f"localhost:{port}"] >= 1, proxy.tunnels
