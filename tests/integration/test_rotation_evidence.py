"""Evidence before retirement, end to end: the real CLI against a private emulator whose clock moves.

A "product" configured by hand keeps signing in with the old secret after rotation; the sign-in log
(beta auditLogs/signIns, read with AuditLog.Read.All) keeps `rotate` from retiring it until it went
unused for `quiet_period`. Without the permission, `plan` says evidence is unavailable and the
manifest's fallback (`retire_without_evidence`) decides.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from audit_support import grant_audit_log_read, product_token
from cli_support import base_env, ok, run_cli

DAY = 86400

MANIFEST = """\
version: 1
apps:
  - name: ev-daemon
    display_name: Evidence daemon
    audience: single-tenant
    handover: "paste into Settings > Mail > Client secret"
    secrets:
      - name: daemon secret
        expires_in: 90d
        rotate_before: 30d
        overlap: 7d
        quiet_period: 3d
        retire_without_evidence: {fallback}
    sinks:
      - type: json
        path: out/daemon.json
"""


def cli(running: Any, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=workdir, env={**base_env(), **running.env()}, timeout=120)


def rotate(running: Any, workdir: Path) -> subprocess.CompletedProcess[str]:
    return cli(running, workdir, "rotate", "manifests", "--yes", "--json", "--detailed-exitcode")


def setup(running: Any, workdir: Path, fallback: str = "overlap") -> dict[str, Any]:
    (workdir / "manifests").mkdir(parents=True)
    (workdir / "manifests" / "ev.yaml").write_text(MANIFEST.format(fallback=fallback))
    ok(cli(running, workdir, "apply", "manifests", "--yes"))
    return dict(json.loads((workdir / "out" / "daemon.json").read_text()))


@pytest.mark.slow
def test_old_secret_is_kept_while_used_and_retired_after_the_quiet_period(
    tmp_emulator: Any, tmp_path: Path
) -> None:
    grant_audit_log_read(tmp_emulator)
    first = setup(tmp_emulator, tmp_path)
    client_id, old_value, old_id = first["client_id"], first["client_secret"], first["client_secret_id"]
    assert product_token(tmp_emulator, client_id, old_value) == 200

    tmp_emulator.ctx.clock.advance(61 * DAY)
    report = json.loads(ok(rotate(tmp_emulator, tmp_path), 3).stdout)
    assert report["secrets"][0]["status"] == "rotated"
    new_value = json.loads((tmp_path / "out" / "daemon.json").read_text())["client_secret"]
    (handover_line,) = report["handovers"]
    assert "paste into Settings > Mail > Client secret" in handover_line
    (handover_file,) = (tmp_path / ".provisioner").rglob("handover/ev-daemon.md")
    text = handover_file.read_text()
    assert report["secrets"][0]["current"]["key_id"] in text and "out/daemon.json" in text
    assert new_value not in text and old_value not in text
    assert oct(handover_file.stat().st_mode & 0o777) == "0o600"
    pending = json.loads(cli(tmp_emulator, tmp_path, "status", "manifests", "--json").stdout)
    assert any(n.startswith("hand-over: pending") for n in pending["apps"][0]["notes"])

    # The product was not updated: it keeps signing in with the old secret, past the overlap.
    tmp_emulator.ctx.clock.advance(8 * DAY)
    assert product_token(tmp_emulator, client_id, old_value) == 200
    held = ok(rotate(tmp_emulator, tmp_path), 5)
    report = json.loads(held.stdout)
    assert report["secrets"][0]["removed"] == []
    (line,) = report["held_back"]
    assert line.startswith(f"ev-daemon: old secret {old_value[:3]}... still used (last sign-in ")
    assert line.endswith(", from 127.0.0.1)")
    assert "still used" in held.stderr and old_value not in held.stderr + held.stdout
    assert new_value not in held.stderr + held.stdout
    assert product_token(tmp_emulator, client_id, old_value) == 200
    status = json.loads(cli(tmp_emulator, tmp_path, "status", "manifests", "--json").stdout)
    rows = {r["key_id"]: r for r in status["apps"][0]["secrets"]}
    assert rows[old_id]["state"] == "previous, still used"
    assert rows[old_id]["last_sign_in"] and rows[old_id]["last_sign_in_from"] == "127.0.0.1"
    assert any("still used" in w for w in status["warnings"])
    doctor = json.loads(cli(tmp_emulator, tmp_path, "doctor", "--json").stdout)
    assert doctor["evidence"] == {"available": True, "reason": ""}

    # The product switches; after quiet_period without the old keyId, the next rotate retires it.
    tmp_emulator.ctx.clock.advance(DAY)
    assert product_token(tmp_emulator, client_id, new_value) == 200
    done_status = json.loads(cli(tmp_emulator, tmp_path, "status", "manifests", "--json").stdout)
    assert "hand-over: done (the current secret has signed in)" in done_status["apps"][0]["notes"]
    still = json.loads(ok(rotate(tmp_emulator, tmp_path), 5).stdout)
    assert still["secrets"][0]["removed"] == []  # 1 day since its last use, quiet_period is 3d
    tmp_emulator.ctx.clock.advance(2 * DAY + 3600)
    done = json.loads(ok(rotate(tmp_emulator, tmp_path), 3).stdout)
    assert [r["key_id"] for r in done["secrets"][0]["removed"]] == [old_id]
    assert done["held_back"] == []
    assert product_token(tmp_emulator, client_id, old_value) == 401
    assert product_token(tmp_emulator, client_id, new_value) == 200


@pytest.mark.slow
@pytest.mark.parametrize("fallback", ["overlap", "never"])
def test_without_the_audit_permission_plan_says_so_and_follows_the_fallback(
    tmp_emulator: Any, tmp_path: Path, fallback: str
) -> None:
    first = setup(tmp_emulator, tmp_path, fallback)
    tmp_emulator.ctx.clock.advance(61 * DAY)
    ok(rotate(tmp_emulator, tmp_path), 3)
    tmp_emulator.ctx.clock.advance(8 * DAY)

    plan = cli(tmp_emulator, tmp_path, "plan", "manifests")
    notes = [ln for ln in plan.stderr.splitlines() if "no sign-in evidence" in ln]
    assert len(notes) == 1, plan.stderr
    assert "AuditLog.Read.All" in notes[0]
    retiring = "retire_secret" in plan.stdout or "retire" in plan.stdout
    assert retiring == (fallback == "overlap"), plan.stdout

    doctor = json.loads(cli(tmp_emulator, tmp_path, "doctor", "--json").stdout)
    assert doctor["evidence"]["available"] is False and "AuditLog.Read.All" in doctor["evidence"]["reason"]
    report = json.loads(ok(rotate(tmp_emulator, tmp_path), 3 if fallback == "overlap" else 0).stdout)
    removed = [r["key_id"] for r in report["secrets"][0]["removed"]]
    assert removed == ([first["client_secret_id"]] if fallback == "overlap" else [])


class _Receiver:
    """A local webhook: records every JSON body posted to it (loopback only)."""

    def __init__(self) -> None:
        import http.server
        import threading

        bodies: list[dict[str, Any]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.bodies = bodies
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _dead_url() -> str:
    import socket

    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@pytest.mark.slow
@pytest.mark.parametrize("receiver", ["live", "dead"])
def test_alerts_reach_a_webhook_and_a_dead_one_changes_nothing(
    tmp_emulator: Any, tmp_path: Path, receiver: str
) -> None:
    first = setup(tmp_emulator, tmp_path)
    hook = _Receiver() if receiver == "live" else None
    url = hook.url if hook else _dead_url()
    try:
        tmp_emulator.ctx.clock.advance(80 * DAY)  # inside the window, 10 days left
        status = cli(tmp_emulator, tmp_path, "status", "manifests", "--webhook", url, "--alert-days", "14")
        assert status.returncode == 0, status.stderr
        rotate_hook = cli(
            tmp_emulator,
            tmp_path,
            "rotate",
            "manifests",
            "--yes",
            "--json",
            "--detailed-exitcode",
            "--webhook",
            url,
            "--webhook-format",
            "slack",
        )
        assert rotate_hook.returncode == 3, rotate_hook.stderr
        report = json.loads(rotate_hook.stdout)
        assert report["secrets"][0]["status"] == "rotated"
        new_value = json.loads((tmp_path / "out" / "daemon.json").read_text())["client_secret"]
        if hook is None:
            assert "webhook:" in status.stderr and "webhook:" in rotate_hook.stderr
            assert "127.0.0.1" not in rotate_hook.stderr.split("webhook:", 1)[1]  # the URL is never printed
            return
        generic, slack = hook.bodies
        kinds = sorted(e["kind"] for e in generic["events"])
        assert kinds == ["expiring", "window"]
        assert all(
            e["app"] == "ev-daemon" and e["key_id"] == first["client_secret_id"] for e in generic["events"]
        )
        assert "rotated" in slack["text"] and set(slack) == {"text"}
        for body in hook.bodies:
            text = json.dumps(body)
            assert first["client_secret"] not in text and new_value not in text
    finally:
        if hook:
            hook.close()


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

TWO_APPS = """\
version: 1
apps:
  - name: ev-fresh
    display_name: Fresh
    audience: single-tenant
    secrets:
      - name: s
        expires_in: 180d
    sinks: [{type: json, path: out/fresh.json}]
  - name: ev-due
    display_name: Due
    audience: single-tenant
    secrets:
      - name: s
        expires_in: 40d
        rotate_before: 30d
    sinks: [{type: json, path: out/due.json}]
"""


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists() or not CHROMEDRIVER.exists(), reason="chromium/chromium-driver not installed"
)
def test_status_html_renders_one_row_per_app_with_its_urgency(tmp_emulator: Any, tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "two.yaml").write_text(TWO_APPS)
    ok(cli(tmp_emulator, tmp_path, "apply", "manifests", "--yes"))
    tmp_emulator.ctx.clock.advance(31 * DAY)  # ev-due: 9 days left, inside its window
    page = tmp_path / "status.html"
    ok(cli(tmp_emulator, tmp_path, "status", "manifests", "--html", str(page)))
    assert "<script" not in page.read_text() and "http" not in page.read_text().split("<body>", 1)[1]

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-proxy-server",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(30)
        driver.get(page.as_uri())
        rows = driver.find_elements(By.CSS_SELECTOR, "tr.app")
        by_app = {r.get_attribute("data-app"): r for r in rows}
        assert sorted(by_app) == ["ev-due", "ev-fresh"]
        assert {r.get_attribute("data-tenant") for r in rows} == {tmp_emulator.tenant.tenant_id}
        assert by_app["ev-fresh"].get_attribute("data-urgency") == "ok"
        assert by_app["ev-due"].get_attribute("data-urgency") == "urgent"
        # Rendered colours, not just classes: red-ish for urgent, green-ish for ok.
        due_bg = by_app["ev-due"].value_of_css_property("background-color")
        ok_bg = by_app["ev-fresh"].value_of_css_property("background-color")
        assert due_bg != ok_bg and due_bg.startswith("rgba(253, 228, 228")
        # The timeline is laid out: a visible validity bar, the rotate window on the due app, a "now" line.
        bar = by_app["ev-due"].find_element(By.CSS_SELECTOR, ".bar")
        assert bar.is_displayed() and bar.size["width"] > 0
        assert by_app["ev-due"].find_element(By.CSS_SELECTOR, ".window").size["width"] > 0
        assert by_app["ev-fresh"].find_elements(By.CSS_SELECTOR, ".window")  # opens in the future
        assert by_app["ev-due"].find_element(By.CSS_SELECTOR, ".now").is_displayed()
        assert "mint a new secret" in by_app["ev-due"].find_element(By.CSS_SELECTOR, ".next").text
        assert "nothing now" in by_app["ev-fresh"].find_element(By.CSS_SELECTOR, ".next").text
    finally:
        driver.quit()
