"""`provisioner authorize` and `provisioner verify` end to end: real CLI, real HTTPS, the emulator.

Scenarios 1, 2 and 4 are applied with `provisioner apply` (subprocess, pointed at a
separately started emulator through the environment ``RunningEmulator.env()`` gives),
then `authorize --no-browser` runs as a subprocess while the test plays the user:
httpx submits the emulator's sign-in (and consent) forms, and the browser test does
the same in headless Chromium. Revocation goes through Graph's
``POST /users/{id}/revokeSignInSessions``; inactivity through the emulator clock
(``tmp_emulator``, since clock offsets are per emulator and in memory only).
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cli_support
import httpx
import jwt
import pytest
from cli_support import base_env, connection_file
from oauth_support import forms
from typer.testing import CliRunner

from provisioner.cli import app as cli_app
from provisioner.emulator import RunningEmulator, start_emulator
from provisioner.graph.target import target_from_emulator
from provisioner.manifest import validate_paths
from provisioner.oauth.authorize_flow import run_authorize, select_app
from provisioner.oauth.client_config import load_client_config
from provisioner.oauth.token_client import TokenClient
from provisioner.oauth.token_file import FIELDS

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
S1 = "01-exchange-connector.yaml"
S2 = "02-outlook-etl.yaml"
S4 = "04-automation-pkce.yaml"
APP = {S1: "exchange-connector", S2: "outlook-etl", S4: "automation-pkce"}
OIDC = {"openid", "profile", "email", "offline_access"}
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
URL_TIMEOUT = 60.0


# -- running the CLI --------------------------------------------------------------------------------


def cli_env(emulator: RunningEmulator | None) -> dict[str, str]:
    """The caller's environment without Azure/provisioner settings, plus the emulator's."""
    env = base_env()
    env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1"
    if emulator is not None:
        env.update(emulator.env())
    return env


def run_cli(
    *args: str, cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    return cli_support.run_cli(*args, cwd=cwd, env=env, check=check, timeout=180)


def copy_manifests(workdir: Path, *names: str) -> list[str]:
    (workdir / "manifests").mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(MANIFESTS / name, workdir / "manifests" / name)
    return [f"manifests/{name}" for name in names]


@dataclass
class AuthorizeProcess:
    """`provisioner authorize --no-browser` running in the background; the URL comes on stderr."""

    proc: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    stderr: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, *args: str, cwd: Path, env: dict[str, str]) -> AuthorizeProcess:
        proc = subprocess.Popen(
            [sys.executable, "-m", "provisioner", "authorize", *args, "--no-browser", "--timeout", "90"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        run = cls(proc)
        threading.Thread(target=run._read_stderr, daemon=True).start()
        return run

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            self.lines.put(line)
        self.lines.put("")  # EOF marker

    def url(self) -> str:
        while True:
            try:
                line = self.lines.get(timeout=URL_TIMEOUT)
            except queue.Empty:
                self.proc.kill()
                raise AssertionError("authorize printed no URL: " + "".join(self.stderr)) from None
            if line.startswith("https://"):
                return line.strip()
            if line == "":
                out = self.proc.stdout.read() if self.proc.stdout else ""
                raise AssertionError(f"authorize exited {self.proc.wait()}: {''.join(self.stderr)}{out}")

    def finish(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout=60)
        assert code == 0, f"exit {code}\n{out}\n{''.join(self.stderr)}"
        return dict(json.loads(out))


# -- playing the user: the emulator's HTML forms --------------------------------------------------


def sign_in_with_httpx(url: str, ca: Path, *, user: str = "admin@", expect_consent: bool = False) -> None:
    """Submit the sign-in form as ``user`` (a UPN prefix), accept consent if shown, follow the redirect."""
    with httpx.Client(verify=str(ca), trust_env=False) as http:
        page = http.get(url)
        assert page.status_code == 200, page.text
        signin = forms(page.text)["signin"]
        button = next(
            b for b in signin["buttons"] if b.get("name") == "user" and b["data-upn"].startswith(user)
        )
        response = http.post(
            httpx.URL(url).join(signin["action"]), data={**signin["fields"], "user": button["value"]}
        )
        consent = forms(response.text).get("consent") if response.status_code == 200 else None
        assert (consent is not None) == expect_consent, response.text[:500]
        if consent is not None:
            response = http.post(
                httpx.URL(url).join(consent["action"]), data={**consent["fields"], "decision": "accept"}
            )
        assert response.status_code == 302, response.text[:500]
        location = response.headers["location"]
        assert location.startswith("http://localhost:") and "code=" in location
        landing = http.get(location)
        assert landing.status_code == 200 and 'data-status="ok"' in landing.text


# -- emulator helpers ---------------------------------------------------------------------------------


def graph_admin(emulator: RunningEmulator) -> httpx.Client:
    """Graph as the bootstrap admin app, holding User.RevokeSessions.All.

    The seeded bootstrap app has AppRoleAssignment.ReadWrite.All but not
    User.RevokeSessions.All, so it grants itself that role first (as an admin app can).
    """
    tenant = emulator.tenant
    ca = str(emulator.ca_cert_path)
    token_url = f"{emulator.authority}/{tenant.tenant_id}/oauth2/v2.0/token"

    def token() -> str:
        with TokenClient(token_url, verify=emulator.ssl_context()) as client:
            body = client.client_credentials(
                client_id=tenant.admin_client_id,
                client_secret=tenant.admin_client_secret,
                scope="https://graph.microsoft.com/.default",
            )
        return str(body["access_token"])

    http = httpx.Client(base_url=emulator.graph_url, verify=ca, trust_env=False)
    http.headers["Authorization"] = f"Bearer {token()}"
    if "User.RevokeSessions.All" not in jwt.decode(
        http.headers["Authorization"][7:], options={"verify_signature": False}
    ).get("roles", []):
        graph = http.get(
            "/servicePrincipals", params={"$filter": "appId eq '00000003-0000-0000-c000-000000000000'"}
        )
        graph_sp = graph.json()["value"][0]
        role = next(r for r in graph_sp["appRoles"] if r["value"] == "User.RevokeSessions.All")
        me = http.get("/servicePrincipals", params={"$filter": f"appId eq '{tenant.admin_client_id}'"})
        me_id = me.json()["value"][0]["id"]
        granted = http.post(
            f"/servicePrincipals/{me_id}/appRoleAssignments",
            json={"principalId": me_id, "resourceId": graph_sp["id"], "appRoleId": role["id"]},
        )
        assert granted.status_code == 201, granted.text
        http.headers["Authorization"] = f"Bearer {token()}"
    return http


def revoke_sessions(emulator: RunningEmulator, upn: str) -> None:
    http = graph_admin(emulator)
    try:
        response = http.post(f"/users/{upn}/revokeSignInSessions")
    finally:
        http.close()
    assert response.status_code == 200, response.text
    assert response.json()["value"] is True


def advance_clock(emulator: RunningEmulator, *, days: int = 0, seconds: int = 0) -> None:
    with httpx.Client(verify=emulator.ssl_context(), trust_env=False) as http:
        response = http.post(
            f"{emulator.base_url}/_emulator/clock",
            json={"advance_seconds": days * 86400 + seconds},
            headers=emulator.admin_headers(),
        )
        assert response.status_code == 200, response.text


def declared_delegated(manifest: Path) -> set[str]:
    (loaded,) = validate_paths([manifest]).apps
    perms = loaded.app.permissions["Microsoft Graph"]
    return {p for p in perms.delegated if p not in OIDC}


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def verify_json(
    workdir: Path, env: dict[str, str], *paths: str, extra: tuple[str, ...] = ()
) -> tuple[int, dict[str, Any]]:
    proc = run_cli(
        "verify", *paths, "--json", "--state-dir", "state", *extra, cwd=workdir, env=env, check=False
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def checks_of(report: dict[str, Any], app: str) -> list[dict[str, Any]]:
    return next(a for a in report["apps"] if a["app"] == app)["checks"]


def authorize_in_process(
    emulator: RunningEmulator,
    workdir: Path,
    manifest: str,
    *,
    drive: Callable[[str], None],
    prompt: str | None = None,
) -> dict[str, Any]:
    """The authorize flow without a subprocess (same code the command runs), for setup steps."""
    loaded = select_app(validate_paths([workdir / manifest]).apps, None, command="authorize")
    config = load_client_config(workdir / "state", loaded.app.name, target=target_from_emulator(emulator))
    urls: queue.Queue[str] = queue.Queue()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = run_authorize(
                loaded,
                config,
                token_path=workdir / "state" / "tokens" / f"{loaded.app.name}.json",
                open_url=urls.put,
                redirect_port=0,
                prompt=prompt,
                timeout=60,
            )
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc
            urls.put("")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = urls.get(timeout=URL_TIMEOUT)
    if url:
        drive(url)
    thread.join(60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"].to_dict()


# -- fixtures -----------------------------------------------------------------------------------------


@dataclass
class World:
    emulator: RunningEmulator
    workdir: Path
    env: dict[str, str]
    paths: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Scenarios 1, 2 and 4 applied once with `provisioner apply` into this module's own emulator."""
    workdir = tmp_path_factory.mktemp("authorize")
    with start_emulator() as emulator:
        env = cli_env(emulator)
        paths = dict(zip((S1, S2, S4), copy_manifests(workdir, S1, S2, S4), strict=True))
        run_cli("apply", *paths.values(), "--yes", "--state-dir", "state", cwd=workdir, env=env)
        yield World(emulator, workdir, env, paths)


# -- scenarios 1, 2, 4: authorize then verify -------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "prompt"),
    [(S1, "consent"), (S2, "login"), (S4, None)],
    ids=["scenario1-consent-page", "scenario2-prompt-login", "scenario4-pkce-public"],
)
def test_authorize_writes_token_file_and_verify_passes(
    world: World, manifest: str, prompt: str | None
) -> None:
    app = APP[manifest]
    connection = json.loads(connection_file(world.workdir / "state", app).read_text())
    args = [world.paths[manifest], "--state-dir", "state", "--redirect-port", "0"]
    if prompt:
        args += ["--prompt", prompt]
    run = AuthorizeProcess.start(*args, cwd=world.workdir, env=world.env)
    url = run.url()
    query = dict(httpx.URL(url).params)
    assert url.startswith(connection["authorization_url"] + "?")
    # Multi-tenant scenario 1 signs in through /organizations, single-tenant ones through the tenant ID.
    segment = "organizations" if manifest == S1 else connection["tenant_id"]
    assert f"/{segment}/oauth2/v2.0/authorize?" in url
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["redirect_uri"].startswith("http://localhost:") and query["state"]
    assert query.get("prompt") == prompt
    sign_in_with_httpx(url, world.emulator.ca_cert_path, expect_consent=prompt == "consent")
    summary = run.finish()

    path = world.workdir / "state" / "tokens" / f"{app}.json"
    assert summary["token_file"] == f"state/tokens/{app}.json" and summary["refresh_token"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    tokens = json.loads(path.read_text())
    assert tuple(tokens) == FIELDS
    assert tokens["client_id"] == connection["client_id"] and tokens["tenant_id"] == connection["tenant_id"]
    assert tokens["token_url"] == connection["token_url"] and tokens["expires_in"] > 3000
    access = claims(tokens["access_token"])
    assert access["aud"] == "https://graph.microsoft.com" and access["idtyp"] == "user"
    assert access["appid"] == connection["client_id"]
    assert declared_delegated(MANIFESTS / manifest) <= set(access["scp"].split())
    assert summary["user"] == access["upn"]  # a v1.0 Graph token: upn, not v2.0 preferred_username
    # Tokens appear in the token file only: never on stdout or stderr.
    output = json.dumps(summary) + "".join(run.stderr)
    assert tokens["access_token"] not in output and tokens["refresh_token"] not in output

    proc = run_cli("verify", world.paths[manifest], "--state-dir", "state", cwd=world.workdir, env=world.env)
    assert "All 1 app(s) verified." in proc.stdout
    assert tokens["refresh_token"] not in proc.stdout and tokens["access_token"] not in proc.stdout
    rotated = json.loads(path.read_text())
    assert rotated["refresh_token"] != tokens["refresh_token"]  # refresh tokens rotate: file re-written
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_verify_distinguishes_unknown_client_invalid_secret_and_changed_client(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tampered copies of scenario 2's files: each failure has its own one-line diagnosis."""
    shutil.copytree(world.workdir / "state", tmp_path / "state", ignore=shutil.ignore_patterns("tokens"))
    copy_manifests(tmp_path, S2)
    authorize_in_process(
        world.emulator,
        tmp_path,
        f"manifests/{S2}",
        drive=lambda url: sign_in_with_httpx(url, world.emulator.ca_cert_path),
    )
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    conn_file = connection_file(tmp_path / "state", "outlook-etl")
    original = json.loads(conn_file.read_text())

    def verify() -> tuple[int, dict[str, Any]]:
        result = CliRunner().invoke(cli_app, ["verify", f"manifests/{S2}", "--json", "--state-dir", "state"])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result.exit_code, json.loads(result.stdout)

    conn_file.write_text(json.dumps({**original, "client_secret": "not-the-secret-value-0123456789"}))
    code, report = verify()
    assert code == 1
    assert {c["error"] for c in checks_of(report, "outlook-etl")} == {"secret_invalid"}
    assert all("provisioner rotate" in c["message"] for c in checks_of(report, "outlook-etl"))
    assert "not-the-secret-value" not in json.dumps(report)

    other = "5f2d3c1e-0000-4000-8000-000000000001"
    conn_file.write_text(json.dumps({**original, "client_id": other}))
    code, report = verify()
    assert code == 1
    by_kind = {c["check"]: c for c in checks_of(report, "outlook-etl")}
    assert by_kind["secret"]["error"] == "client_not_found" and other in by_kind["secret"]["message"]
    assert by_kind["delegated"]["error"] == "invalidated"
    assert "client ID changed; re-run provisioner authorize" in by_kind["delegated"]["message"]

    conn_file.write_text(json.dumps(original))
    code, report = verify()
    assert code == 0 and report["ok"], report


def test_forged_requests_to_the_loopback_listener_do_not_abort_the_sign_in(world: World) -> None:
    """Any local process can reach the listener's port: its requests are answered and ignored."""
    token_file = "state/tokens/forged-requests-check.json"
    run = AuthorizeProcess.start(
        world.paths[S4],
        "--state-dir",
        "state",
        "--redirect-port",
        "0",
        "--out",
        token_file,
        cwd=world.workdir,
        env=world.env,
    )
    url = run.url()
    redirect = httpx.URL(dict(httpx.URL(url).params)["redirect_uri"])
    forged = {
        "?code=forged&state=guessed": 400,  # wrong state
        "?code=forged": 400,  # no state
        "?error=access_denied&error_description=forged": 400,  # a forged failure without the state
        "?error=access_denied&state=guessed": 400,
    }
    with httpx.Client(trust_env=False) as http:
        for query, status in forged.items():
            answer = http.get(str(redirect) + query)
            assert answer.status_code == status, (query, answer.text)
            assert 'data-status="ok"' not in answer.text
        assert http.get(str(redirect.copy_with(path="/elsewhere"))).status_code == 404
    assert run.proc.poll() is None  # still waiting for the real redirect
    sign_in_with_httpx(url, world.emulator.ca_cert_path)
    summary = run.finish()
    assert summary["token_file"] == token_file and summary["refresh_token"] is True
    assert claims(json.loads((world.workdir / token_file).read_text())["access_token"])["idtyp"] == "user"


def test_no_loopback_redirect_fails_with_the_line_to_add(tmp_path: Path) -> None:
    (path,) = copy_manifests(tmp_path, "05-ews-test-tool.yaml")
    manifest = tmp_path / path  # the shipped manifest has a loopback URI: take it out
    text = manifest.read_text()
    assert "        - http://localhost:8400/callback\n" in text
    manifest.write_text(text.replace("        - http://localhost:8400/callback\n", ""))
    proc = run_cli(
        "authorize",
        path,
        "--state-dir",
        "state",
        "--no-browser",
        cwd=tmp_path,
        env=cli_env(None),
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"error: {path}:")
    assert "'- http://localhost:8400/callback' under redirect_uris.web" in line


# -- revoked vs expired (own emulator: revocation and the clock are global) -------------------------


@pytest.mark.slow
def test_revoked_then_expired_refresh_tokens_then_expired_secret(
    tmp_emulator: RunningEmulator, tmp_path: Path
) -> None:
    env = cli_env(tmp_emulator)
    paths = copy_manifests(tmp_path, S2, S4)
    run_cli("apply", *paths, "--yes", "--state-dir", "state", cwd=tmp_path, env=env)
    ca = tmp_emulator.ca_cert_path

    def sign_in_all() -> None:
        for manifest in paths:
            authorize_in_process(
                tmp_emulator, tmp_path, manifest, drive=lambda url: sign_in_with_httpx(url, ca)
            )

    sign_in_all()
    code, report = verify_json(tmp_path, env, *paths)
    assert code == 0 and report["ok"], report

    # signInSessionsValidFromDateTime has whole seconds: revoke in a later second than the sign-in.
    advance_clock(tmp_emulator, seconds=1)
    revoke_sessions(tmp_emulator, f"admin@{tmp_emulator.tenant.domain}")
    code, report = verify_json(tmp_path, env, *paths)
    assert code == 1
    for app in ("outlook-etl", "automation-pkce"):
        (delegated,) = [c for c in checks_of(report, app) if c["check"] == "delegated"]
        assert delegated["error"] == "revoked" and "AADSTS50173" in delegated["message"]
        assert "revoked" in delegated["message"] and "run provisioner authorize again" in delegated["message"]
        assert "expired" not in delegated["message"]
    table = run_cli("verify", *paths, "--state-dir", "state", cwd=tmp_path, env=env, check=False)
    assert table.returncode == 1 and "revoked" in table.stdout and "2 of 2 app(s) not working" in table.stdout

    sign_in_all()  # a fresh sign-in after the revocation works again
    code, report = verify_json(tmp_path, env, *paths)
    assert code == 0, report

    advance_clock(tmp_emulator, days=91)
    code, report = verify_json(tmp_path, env, *paths)
    assert code == 1
    for app in ("outlook-etl", "automation-pkce"):
        (delegated,) = [c for c in checks_of(report, app) if c["check"] == "delegated"]
        assert delegated["error"] == "expired" and "AADSTS700082" in delegated["message"]
        assert "expired" in delegated["message"] and "revoked" not in delegated["message"]
        assert "run provisioner authorize again" in delegated["message"]
    assert {c["status"] for c in checks_of(report, "outlook-etl") if c["check"] == "secret"} == {"ok"}

    advance_clock(tmp_emulator, days=100)  # past the 180-day secret of scenario 2
    code, report = verify_json(tmp_path, env, paths[0])
    assert code == 1
    (secret,) = [c for c in checks_of(report, "outlook-etl") if c["check"] == "secret"]
    assert secret["error"] == "secret_expired" and "AADSTS7000222" in secret["message"]
    assert "run provisioner rotate" in secret["message"]


def test_token_requests_retry_through_throttling(tmp_emulator: RunningEmulator) -> None:
    """503s injected on the identity endpoints are retried, with growing waits, until a token comes."""
    with httpx.Client(verify=tmp_emulator.ssl_context(), trust_env=False) as http:
        http.put(
            f"{tmp_emulator.base_url}/_emulator/faults",
            json={"error_rate": 0.2, "seed": 11, "include_identity": True},
            headers=tmp_emulator.admin_headers(),
        ).raise_for_status()
    tenant = tmp_emulator.tenant
    token_url = f"{tmp_emulator.authority}/{tenant.tenant_id}/oauth2/v2.0/token"
    retries: list[tuple[int, float, int]] = []
    with TokenClient(
        token_url,
        verify=tmp_emulator.ssl_context(),
        sleep=lambda seconds: None,  # the waits are recorded, not slept
        on_retry=lambda attempt, wait, status: retries.append((attempt, wait, status)),
    ) as client:
        for _ in range(40):  # until a request needed a retry and then succeeded (seeded: a few calls)
            body = client.client_credentials(
                client_id=tenant.admin_client_id,
                client_secret=tenant.admin_client_secret,
                scope="https://graph.microsoft.com/.default",
            )
            assert body["access_token"]
            if retries:
                break
    assert retries, "no 503 was injected in 40 token requests"
    assert {status for _, _, status in retries} == {503}
    # The n-th retry of one request waits at least 2**(n-1) s (and at least Retry-After).
    assert all(wait >= 2 ** (attempt - 1) for attempt, wait, _ in retries)


# -- --emulator: the CLI's own in-process emulator on a persistent state dir ------------------------


@pytest.mark.slow
def test_emulator_flag_rebases_the_connection_endpoints(tmp_path: Path) -> None:
    """apply, authorize and verify each start their own emulator (another port each time)."""
    env = cli_env(None)
    (path,) = copy_manifests(tmp_path, S4)
    run_cli("apply", path, "--emulator", "--yes", "--state-dir", "state", cwd=tmp_path, env=env)
    written = json.loads((connection_file(tmp_path / "state", "automation-pkce")).read_text())
    run = AuthorizeProcess.start(
        path, "--emulator", "--state-dir", "state", "--redirect-port", "0", cwd=tmp_path, env=env
    )
    url = run.url()
    assert httpx.URL(url).path == httpx.URL(written["authorization_url"]).path
    sign_in_with_httpx(url, tmp_path / "state" / "emulator-tls" / "ca.pem")
    run.finish()
    proc = run_cli("verify", path, "--emulator", "--json", "--state-dir", "state", cwd=tmp_path, env=env)
    assert json.loads(proc.stdout)["ok"] is True


# -- a real browser -----------------------------------------------------------------------------------


def spki_fingerprint(cert_path: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)): what --ignore-certificate-errors-spki-list takes."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists() or not CHROMEDRIVER.exists(), reason="chromium/chromium-driver not installed"
)
def test_headless_chromium_completes_authorize(world: World, tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    token_file = tmp_path / "exchange-connector.json"
    run = AuthorizeProcess.start(
        world.paths[S1],
        "--state-dir",
        "state",
        "--redirect-port",
        "0",
        "--prompt",
        "consent",
        "--out",
        str(token_file),
        cwd=world.workdir,
        env=world.env,
    )
    url = run.url()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        # Trust exactly the emulator's server key (its CA is private), nothing else.
        f"--ignore-certificate-errors-spki-list={spki_fingerprint(world.emulator.data_dir / 'server.pem')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(30)
        wait = WebDriverWait(driver, 30)
        driver.get(url)
        wait.until(
            expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, 'button[data-upn^="admin@"]'))
        ).click()
        wait.until(
            expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, 'button[value="accept"]'))
        ).click()
        result = wait.until(expected_conditions.presence_of_element_located((By.ID, "result")))
        assert result.get_attribute("data-status") == "ok", driver.page_source
        assert driver.current_url.startswith("http://localhost:")
    finally:
        driver.quit()
    summary = run.finish()
    assert summary["token_file"] == str(token_file)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    tokens = json.loads(token_file.read_text())
    assert declared_delegated(MANIFESTS / S1) <= set(claims(tokens["access_token"])["scp"].split())
    assert tokens["refresh_token"]
