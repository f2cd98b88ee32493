"""The emulator's sign-in log: every token request with a client credential is a sign-in with its keyId."""

from __future__ import annotations

from typing import Any

from audit_support import grant_audit_log_read, product_token, set_audit_logs, sign_ins


def test_sign_ins_need_permission_licence_and_wait_for_the_reporting_delay(tmp_emulator: Any) -> None:
    t = tmp_emulator.tenant
    denied = sign_ins(tmp_emulator, t.admin_client_id)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"

    grant_audit_log_read(tmp_emulator)
    rows = sign_ins(tmp_emulator, t.admin_client_id).json()["value"]
    assert rows, "the token requests above are sign-ins"
    newest = rows[0]
    assert newest["appId"] == t.admin_client_id
    assert newest["signInEventTypes"] == ["servicePrincipal"]
    assert newest["clientCredentialType"] == "clientSecret"
    assert newest["ipAddress"] == "127.0.0.1"
    assert newest["servicePrincipalCredentialKeyId"]
    assert "secret" not in {k.lower() for k in newest} and t.admin_client_secret not in str(rows)

    # Without a signInEventTypes filter only interactive user sign-ins are listed (none here).
    set_audit_logs(tmp_emulator, reporting_delay_seconds=600)
    before = len(sign_ins(tmp_emulator, t.admin_client_id).json()["value"])
    assert product_token(tmp_emulator, t.admin_client_id, t.admin_client_secret) == 200
    assert len(sign_ins(tmp_emulator, t.admin_client_id).json()["value"]) == before  # not reported yet
    set_audit_logs(tmp_emulator, reporting_delay_seconds=0)
    assert len(sign_ins(tmp_emulator, t.admin_client_id).json()["value"]) > before

    set_audit_logs(tmp_emulator, premium=False)
    refused = sign_ins(tmp_emulator, t.admin_client_id)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
