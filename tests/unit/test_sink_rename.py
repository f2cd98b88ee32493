"""``rename:`` on json and dotenv sinks: validate refuses what cannot work (file:line), reads undo the rename."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from provisioner.manifest import ValidationResult, validate_paths
from provisioner.model.manifest import App, DotenvSink, JsonSink
from provisioner.sinks import deliver, held_key_id
from provisioner.sinks.deliver import preflight, recover_secret
from provisioner.sinks.dotenv_sink import read_block

SECRET = "Xy7~Secret.Value_with-known-marker-9f3a2c"
KEY_ID = "5f1d2e3c-0000-4000-8000-00000000abcd"
TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def run(tmp_path: Path, sinks: list[dict[str, Any]], **app: Any) -> ValidationResult:
    body = {
        "name": "demo",
        "display_name": "Demo",
        "permissions": {"Microsoft Graph": {"application": ["Mail.Read"]}},
        "secrets": [{"name": "main"}],
        "extra_values": {"mailbox": "ops@example.com"},
        "sinks": sinks,
        **app,
    }
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "apps": [body]}, sort_keys=False), encoding="utf-8")
    return validate_paths([str(path)])


def lines(result: ValidationResult) -> list[str]:
    return [str(e) for e in result.errors]


def test_valid_renames_pass(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        [
            {
                "type": "json",
                "path": "out/a.json",
                "rename": {"client_id": "ClientId", "client_secret": "Secret"},
            },
            {
                "type": "dotenv",
                "path": "out/a.env",
                "prefix": "X_",
                "rename": {"client_secret": "MAIL_PASSWORD"},
            },
        ],
    )
    assert result.errors == []


def test_rename_errors_name_the_entry_and_its_line(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        [
            {
                "type": "json",
                "path": "out/a.json",
                "rename": {
                    "client_idd": "ClientId",  # unknown source
                    "client_id": "Id",
                    "tenant_id": "Id",  # two keys to one name
                    "token_url": "mailbox",  # collides with a kept key
                },
            },
            {
                "type": "dotenv",
                "path": "out/a.env",
                "rename": {
                    "secrets": "SECRETS",  # no flat value: a dotenv block never carries it
                    "client_secret": "1BAD",  # not a variable name
                    "client_id": "AZURE_TENANT_ID",  # collides with tenant_id's default variable
                },
            },
        ],
    )
    text = "\n".join(lines(result))
    text_lines = (tmp_path / "m.yaml").read_text().splitlines()

    def line_of(needle: str, after: int = 0) -> int:
        return next(i for i, line in enumerate(text_lines, 1) if i > after and needle in line)

    assert f"m.yaml:{line_of('client_idd')}" in text and "'client_idd' names no value" in text
    assert "known: " in text and "client_secret" in text
    assert "'client_id' and 'tenant_id' are both renamed to json key 'Id'" in text
    assert "'token_url' -> 'mailbox' collides with the json key 'mailbox'" in text
    dotenv_at = line_of("type: dotenv")
    assert f"m.yaml:{line_of('secrets: SECRETS', dotenv_at)}" in text
    assert "'secrets' names no value a dotenv block carries" in text
    assert "'1BAD' is not a valid dotenv variable name" in text
    assert "collides with the dotenv variable 'AZURE_TENANT_ID' that 'tenant_id' already gives" in text
    assert len(result.errors) == 6


def test_dotenv_rename_of_a_skipped_key_is_written_and_checked_for_the_dialect(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        [{"type": "dotenv", "path": "out/a.env", "rename": {"display_name": "APP_TITLE"}}],
        display_name="Demo app",
    )
    assert any("cannot carry APP_TITLE" in m and "a space" in m for m in lines(result))
    result = run(
        tmp_path,
        [{"type": "dotenv", "path": "out/a.env", "dialect": "shell", "rename": {"display_name": "T"}}],
        display_name="Demo app",
    )
    assert result.errors == []


def test_token_sink_rename_knows_the_token_keys(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        [],
        permissions={"Microsoft Graph": {"delegated": ["Mail.Read"]}},
        redirect_uris={"public_client": ["http://localhost"]},
        token_sinks=[
            {"type": "json", "path": "out/t.json", "rename": {"refresh_token": "rt", "client_secret": "x"}}
        ],
    )
    assert [m for m in lines(result) if "rename" in m] and all("'client_secret'" in m for m in lines(result))


def _app(sinks: list[dict[str, Any]]) -> App:
    return App.model_validate(
        {
            "name": "demo",
            "display_name": "Demo",
            "permissions": {"Microsoft Graph": {"application": ["Mail.Read"]}},
            "secrets": [{"name": "main"}],
            "sinks": sinks,
        }
    )


def _values(app: App) -> dict[str, Any]:
    from datetime import UTC, datetime

    from provisioner.model.connections import MintedSecret, connection_values

    minted = [MintedSecret("main", KEY_ID, SECRET, SECRET[:3], datetime(2027, 3, 1, tzinfo=UTC))]
    return connection_values(app, tenant_id=TENANT, client_id=CLIENT, minted=minted)


def test_json_rename_is_written_and_read_back(tmp_path: Path) -> None:
    sink = JsonSink(type="json", path="out/a.json", rename={"client_secret": "ClientSecret", "app": "Name"})
    app = _app([sink.model_dump()])
    receipt = deliver(sink, app, _values(app), base_dir=tmp_path)
    data = json.loads((tmp_path / "out/a.json").read_text())
    assert data["ClientSecret"] == SECRET and "client_secret" not in data and data["Name"] == "demo"
    assert receipt.key_id == KEY_ID
    assert held_key_id(sink, app, base_dir=tmp_path) == KEY_ID
    # provenance survives the rename: the file is ours, so a second delivery replaces it
    deliver(sink, app, _values(app), base_dir=tmp_path)
    recovered = recover_secret(app, tmp_path, state_dir=tmp_path / ".p", live_key_ids={KEY_ID})
    assert recovered is not None and recovered["client_secret"] == SECRET


def test_dotenv_rename_is_written_read_back_and_kept_in_preflight(tmp_path: Path) -> None:
    sink = DotenvSink(
        type="dotenv", path="a.env", prefix="P_", rename={"client_secret": "MAIL_PASSWORD", "client_id": "ID"}
    )
    app = _app([sink.model_dump()])
    deliver(sink, app, _values(app), base_dir=tmp_path)
    block = read_block(sink, app, base_dir=tmp_path)
    assert block["MAIL_PASSWORD"] == SECRET and block["ID"] == CLIENT
    assert "P_AZURE_CLIENT_SECRET" not in block and block["P_AZURE_CLIENT_SECRET_ID"] == KEY_ID
    assert held_key_id(sink, app, base_dir=tmp_path) == KEY_ID
    recovered = recover_secret(app, tmp_path, state_dir=tmp_path / ".p", live_key_ids={KEY_ID})
    assert recovered is not None and recovered["client_secret"] == SECRET
    assert preflight(app, tmp_path, tmp_path / ".p", values=_values(app)) == []
    # a block written before the rename was added still counts as holding its secret
    plain = sink.model_copy(update={"rename": {}})
    deliver(plain, app, _values(app), base_dir=tmp_path)
    assert held_key_id(sink, app, base_dir=tmp_path) == KEY_ID


def test_a_tenant_made_value_meeting_a_rename_fails_preflight(tmp_path: Path) -> None:
    sink = JsonSink(type="json", path="out/a.json", rename={"client_id": "ews_url"})
    app = _app([sink.model_dump()])
    values = {**_values(app), "ews_url": "https://outlook.office365.com/EWS/Exchange.asmx"}
    problems = [p.message for p in preflight(app, tmp_path, tmp_path / ".p", values=values)]
    assert any("'client_id' and 'ews_url' would both be written as 'ews_url'" in p for p in problems)
