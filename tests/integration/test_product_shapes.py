"""Issue 17: connection values shaped the way a product takes them, through the real CLI and the emulator."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from cli_support import base_env, connection_file, ok, run_cli

SHAPED = """\
version: 1
apps:
  - name: etl
    display_name: ETL
    audience: multi-tenant
    authority: common
    scope_separator: "~"
    redirect_uris: {web: ["https://zappysys.com/oauth"]}
    permissions:
      Microsoft Graph: {delegated: [offline_access, email, Mail.Read]}
    admin_consent: true
    secrets: [{name: etl secret, expires_in: 90d}]
    sinks:
      - type: template
        path: out/etl.properties
        template: |
          # $$ is a literal dollar
          ClientId=${client_id}
          ClientSecret=${client_secret}
          TokenUrl=${token_url}
          Scope=${scopes_joined}~
  - name: daemon
    display_name: Daemon
    audience: multi-tenant
    permissions:
      Microsoft Graph: {application: [Mail.Send]}
    admin_consent: true
    secrets: [{name: daemon secret, expires_in: 90d}]
  - name: ews
    display_name: EWS
    authority: tenant
    redirect_uris: {web: ["https://tool.example.com/cb"]}
    permissions:
      Office 365 Exchange Online: {delegated: [EWS.AccessAsUser.All]}
"""


def _apply(tmp_path: Path, text: str) -> None:
    (tmp_path / "m").mkdir(exist_ok=True)
    (tmp_path / "m" / "apps.yaml").write_text(text)
    ok(run_cli("apply", "m", "--emulator", "--yes", cwd=tmp_path, env=base_env()))


def test_authority_scope_separator_exchange_hosts_and_a_rendered_template(tmp_path: Path) -> None:
    _apply(tmp_path, SHAPED)
    state = tmp_path / ".provisioner"
    etl = json.loads(connection_file(state, "etl").read_text())
    assert etl["authorization_url"].endswith("/common/oauth2/v2.0/authorize")
    assert etl["token_url"].endswith("/common/oauth2/v2.0/token")
    assert etl["scopes_joined"] == "email~offline_access~Mail.Read"
    assert etl["scopes"] == "email offline_access Mail.Read"  # on the wire: space separated

    daemon = json.loads(connection_file(state, "daemon").read_text())
    tenant = daemon["tenant_id"]
    assert daemon["token_url"] == daemon["tenant_token_url"]  # client credentials need a tenant
    assert f"/{tenant}/oauth2/v2.0/token" in daemon["token_url"] and "ews_url" not in daemon

    ews = json.loads(connection_file(state, "ews").read_text())
    assert ews["ews_url"] == "https://outlook.office365.com/EWS/Exchange.asmx"
    assert (ews["imap_host"], ews["imap_port"]) == ("outlook.office365.com", "993")
    assert (ews["smtp_host"], ews["smtp_port"]) == ("smtp.office365.com", "587")
    assert f"/{tenant}/oauth2/v2.0/authorize" in ews["authorization_url"]

    rendered = tmp_path / "out" / "etl.properties"
    assert rendered.read_text() == (
        "# $ is a literal dollar\n"
        f"ClientId={etl['client_id']}\n"
        f"ClientSecret={etl['client_secret']}\n"
        f"TokenUrl={etl['token_url']}\n"
        "Scope=email~offline_access~Mail.Read~\n"
    )
    assert stat.S_IMODE(rendered.stat().st_mode) == 0o600

    # re-apply: nothing to change, the file it wrote may be replaced
    again = ok(run_cli("plan", "m", "--emulator", "--detailed-exitcode", cwd=tmp_path, env=base_env()))
    assert "template file out/etl.properties" in again.stdout
    status = ok(run_cli("status", "m", "--emulator", cwd=tmp_path, env=base_env()), 0, 4)
    assert f"template file out/etl.properties → {etl['client_secret_id'][:8]}" in status.stdout

    # a hand-edited file is not the tool's any more: refused before anything is minted
    rendered.write_text(rendered.read_text() + "Custom=1\n")
    refused = run_cli("rotate", "m", "--emulator", "--force", "--app", "etl", cwd=tmp_path, env=base_env())
    assert (
        refused.returncode != 0 and "was not written by provisioner (or was changed since)" in refused.stderr
    )
    assert rendered.read_text().endswith("Custom=1\n")
    assert etl["client_secret"] not in refused.stdout + refused.stderr


def test_validate_checks_templates_and_authorities_offline(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "version: 1\napps:\n"
        "  - name: a\n    display_name: A\n    authority: common\n"
        "    sinks:\n      - {type: template, path: out/a.txt, template: 'id=${client_id} s=${client_secret}'}\n"
        "  - name: b\n    display_name: B\n"
        "    sinks:\n      - {type: template, path: out/b.txt, template: 'cost $5', template_file: x.tpl}\n"
        "  - name: c\n    display_name: C\n"
        "    sinks:\n      - {type: template, path: out/c.txt, template: 'import os ${__import__}'}\n"
    )
    proc = run_cli("validate", "m.yaml", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = proc.stderr
    assert "apps[0].authority: authority: common needs a multi-tenant audience" in errors
    assert "apps[0].sinks[0].template: placeholder ${client_secret} names no connection value" in errors
    assert "give exactly one of template (the text) and template_file" in errors
    assert "apps[2].sinks[0].template: placeholder ${__import__} names no connection value" in errors


def test_the_worked_examples_apply_and_render_every_product_file(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "products"
    (tmp_path / "m").mkdir()
    for manifest in sorted(examples.glob("*.yaml")):
        (tmp_path / "m" / manifest.name).write_text(manifest.read_text())
    ok(run_cli("validate", "m", cwd=tmp_path))
    ok(run_cli("apply", "m", "--emulator", "--yes", cwd=tmp_path, env=base_env()))
    out = tmp_path / "out"
    etl = (out / "outlook-etl.properties").read_text()
    assert (
        "/common/oauth2/v2.0/authorize" in etl
        and "Scope=openid~profile~email~offline_access~Mail.Read" in etl
    )
    logistics = (out / "logistics-ops.ini").read_text()
    values = json.loads(connection_file(tmp_path / ".provisioner", "logistics-ops-shaped").read_text())
    assert f"client_secret_id = {values['client_secret_id']}" in logistics
    assert (
        f"/{values['tenant_id']}/oauth2/v2.0/token" in logistics and "mailbox = ops@example.com" in logistics
    )
    assert (
        "EWS URL:       https://outlook.office365.com/EWS/Exchange.asmx"
        in (out / "ews-test-tool.txt").read_text()
    )
    assert "Client ID:" in (out / "automation-pkce.txt").read_text()
    assert "Client secret:" in (out / "exchange-connector.txt").read_text()
    for rendered in out.iterdir():
        assert "${" not in rendered.read_text(), rendered
