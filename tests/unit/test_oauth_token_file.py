"""The refresh-token file: exact keys, 0600, atomic rewrite, readable errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from provisioner.core.errors import ProvisionerError
from provisioner.oauth.scopes import group_scopes
from provisioner.oauth.token_file import FIELDS, build_token_file, read_token_file, write_token_file

RESPONSE = {
    "token_type": "Bearer",
    "scope": "https://graph.microsoft.com/User.Read offline_access",
    "expires_in": 3599,
    "ext_expires_in": 3599,
    "access_token": "eyJ.access",
    "refresh_token": "1.R.refresh",
    "id_token": "eyJ.id",
}


def test_build_has_exactly_the_documented_keys() -> None:
    data = build_token_file(
        RESPONSE, client_id="cid", tenant_id="tid", token_url="https://x/tid/oauth2/v2.0/token", now=1000.0
    )
    assert tuple(data) == FIELDS
    assert data["expires_at"] == 1000 + 3599 and data["expires_in"] == 3599
    assert data["refresh_token"] == "1.R.refresh" and data["token_type"] == "Bearer"


def test_refresh_without_new_refresh_token_keeps_the_old_one() -> None:
    response = {k: v for k, v in RESPONSE.items() if k != "refresh_token"}
    data = build_token_file(
        response, client_id="c", tenant_id="t", token_url="u", previous={"refresh_token": "1.R.old"}
    )
    assert data["refresh_token"] == "1.R.old"


def test_write_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "tokens" / "app.json"
    data = build_token_file(RESPONSE, client_id="c", tenant_id="t", token_url="u")
    write_token_file(path, data)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_token_file(path) == data
    assert "id_token" not in json.loads(path.read_text())


def test_read_missing_and_broken(tmp_path: Path) -> None:
    assert read_token_file(tmp_path / "none.json") is None
    broken = tmp_path / "broken.json"
    broken.write_text('{"refresh_token": "1.R.secret-value"')
    with pytest.raises(ProvisionerError) as info:
        read_token_file(broken)
    assert "authorize again" in str(info.value) and "secret-value" not in str(info.value)


def test_scope_groups_one_resource_per_token_request() -> None:
    groups = group_scopes(
        "openid offline_access https://outlook.office.com/EWS.AccessAsUser.All User.Read Mail.Send"
    )
    assert groups.oidc == ["openid", "offline_access"]
    assert [key for key, _ in groups.resources] == [
        "https://outlook.office.com",
        "https://graph.microsoft.com",
    ]
    assert groups.for_resource(0) == "openid offline_access https://outlook.office.com/EWS.AccessAsUser.All"
    assert groups.for_resource(1) == "openid offline_access User.Read Mail.Send"
