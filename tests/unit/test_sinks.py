"""Sinks: files are private and parse back; GitHub masks before it writes; failures never carry a value."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from provisioner.core.errors import SinkError
from provisioner.model.connections import MintedSecret, connection_values, masked
from provisioner.model.manifest import App, DotenvSink, GithubSink, JsonSink, KeyVaultSink
from provisioner.sinks import (
    DeliveryReceipt,
    PartialDeliveryError,
    default_sink_path,
    deliver,
    deliver_all,
    held_key_id,
    held_key_ids,
)
from provisioner.sinks.common import reason
from provisioner.sinks.dotenv_sink import quote, unquote
from provisioner.sinks.keyvault_sink import secret_name

SECRET = "Xy7~Secret.Value_with-known-marker-9f3a2c"
KEY_ID = "5f1d2e3c-0000-4000-8000-00000000abcd"
TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def _keyvault_importable() -> bool:
    try:
        return importlib.util.find_spec("azure.keyvault.secrets") is not None
    except ModuleNotFoundError:  # the azure.keyvault namespace itself is missing
        return False


HAS_KEYVAULT = _keyvault_importable()


def make_app(sinks: list[dict[str, Any]] | None = None, **fields: Any) -> App:
    base = {
        "name": "ops.mail",
        "display_name": "Ops mail",
        "redirect_uris": {"web": ["https://localhost/cb", "http://localhost"]},
        "permissions": {
            "Microsoft Graph": {"delegated": ["offline_access", "Mail.Send"], "application": ["Mail.Read"]}
        },
        "extra_values": {"mailbox": "ops@example.com"},
        "sinks": sinks or [],
    }
    return App.model_validate({**base, **fields})


def make_values(app: App, secret: str | None = SECRET) -> dict[str, Any]:
    minted = (
        [MintedSecret("main", KEY_ID, secret, secret[:3], datetime(2027, 3, 1, tzinfo=UTC))] if secret else []
    )
    return connection_values(app, tenant_id=TENANT, client_id=CLIENT, minted=minted)


def parse_dotenv(text: str) -> dict[str, str]:
    """An independent reader with dotenv semantics (bare, '...' literal, "..." with \\\\ \\" \\n escapes)."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, raw = line.split("=", 1)
        if raw.startswith("'"):
            assert raw.endswith("'") and len(raw) >= 2
            value = raw[1:-1]
        elif raw.startswith('"'):
            assert raw.endswith('"') and len(raw) >= 2
            value = json.loads(raw)  # our escapes are a subset of JSON string escapes
        else:
            assert " " not in raw and "#" not in raw
            value = raw
        result[name.strip()] = value
    return result


def parse_github_output(text: str) -> dict[str, str]:
    outputs: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        name, delimiter = line.split("<<", 1)
        body: list[str] = []
        for inner in lines:
            if inner == delimiter:
                break
            body.append(inner)
        else:
            raise AssertionError("unterminated heredoc")
        outputs[name] = "\n".join(body)
    return outputs


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# --- JSON -------------------------------------------------------------------------------------------


def test_json_sink_writes_values_privately_and_reports_key_id(tmp_path: Path) -> None:
    app = make_app()
    values = make_values(app)
    receipt = deliver(JsonSink(type="json", path="out/conn.json"), app, values, base_dir=tmp_path)
    target = tmp_path / "out" / "conn.json"
    assert json.loads(target.read_text()) == values
    assert mode_of(target) == 0o600
    assert receipt == DeliveryReceipt(f"json file {target}", KEY_ID)
    assert held_key_id(JsonSink(type="json", path=str(target)), app) == KEY_ID


def test_json_sink_holds_nothing_without_a_value(tmp_path: Path) -> None:
    app = make_app()
    sink = JsonSink(type="json", path=str(tmp_path / "c.json"))
    assert held_key_id(sink, app) is None  # no file
    deliver(sink, app, make_values(app, secret=None))
    assert held_key_id(sink, app) is None


# --- dotenv -----------------------------------------------------------------------------------------


def test_dotenv_sink_writes_conventional_names(tmp_path: Path) -> None:
    app = make_app()
    path = tmp_path / ".env"
    receipt = deliver(DotenvSink(type="dotenv", dialect="shell", path=str(path)), app, make_values(app))
    assert mode_of(path) == 0o600
    assert receipt.key_id == KEY_ID
    env = parse_dotenv(path.read_text())
    assert env["AZURE_TENANT_ID"] == TENANT
    assert env["AZURE_CLIENT_ID"] == CLIENT
    assert env["AZURE_CLIENT_SECRET"] == SECRET
    assert env["AZURE_CLIENT_SECRET_ID"] == KEY_ID
    assert env["AZURE_CLIENT_SECRET_EXPIRES"] == "2027-03-01T00:00:00Z"
    assert env["AZURE_AUTHORITY_HOST"] == "https://login.microsoftonline.com"
    assert env["AUTHORIZATION_URL"] == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize"
    assert env["TOKEN_URL"] == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    assert env["SCOPES"] == "offline_access Mail.Send"
    assert env["APP_SCOPES"] == "https://graph.microsoft.com/.default"
    assert env["REDIRECT_URI"] == "https://localhost/cb"
    assert env["REDIRECT_URIS"] == "https://localhost/cb http://localhost"
    assert env["GRAPH_ENDPOINT"] == "https://graph.microsoft.com"
    assert env["MAILBOX"] == "ops@example.com"
    assert "APP" not in env and "SECRETS" not in env


def test_dotenv_values_are_shell_safe(tmp_path: Path) -> None:
    """What a POSIX shell reads back (shlex) equals what was written, for values without ' \\ or newlines."""
    app = make_app()
    path = tmp_path / ".env"
    deliver(DotenvSink(type="dotenv", dialect="shell", path=str(path)), app, make_values(app))
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, raw = line.split("=", 1)
            assert shlex.split(raw) == [parse_dotenv(line)[name]]


@pytest.mark.parametrize(
    "value",
    ["plain", "with space", "it's", 'say "hi"', "back\\slash", "$HOME and `x`", "", "a#b", "~x", "a:~b"],
)
def test_dotenv_quote_round_trips(value: str) -> None:
    line = f"X={quote(value, 'shell')}"
    assert parse_dotenv(line)["X"] == value
    assert unquote(quote(value, "shell"), "shell") == value
    assert "\n" not in line


@pytest.mark.parametrize("value", ["two\nlines", "cr\rhere", "nel\x85", "ls\u2028", "x${HOME}", "it's $(x)"])
def test_dotenv_shell_dialect_refuses_what_no_quoting_carries(value: str) -> None:
    with pytest.raises(ValueError):
        quote(value, "shell")


def test_dotenv_prefix_and_held_key_id(tmp_path: Path) -> None:
    app = make_app()
    sink = DotenvSink(type="dotenv", dialect="shell", path=str(tmp_path / ".env"), prefix="EXCHANGE_")
    assert held_key_id(sink, app) is None
    deliver(sink, app, make_values(app))
    env = parse_dotenv((tmp_path / ".env").read_text())
    assert env["EXCHANGE_AZURE_CLIENT_SECRET"] == SECRET
    assert all(name.startswith("EXCHANGE_") for name in env)
    assert held_key_id(sink, app) == KEY_ID
    deliver(sink, app, make_values(app, secret=None))
    assert held_key_id(sink, app) is None


def test_dotenv_keeps_user_lines_and_other_apps_and_replaces_its_block(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# my settings\nDEBUG=1\nAZURE_CLIENT_ID=stale-hand-written\n")
    first, second = make_app(), make_app(name="other", display_name="Other")
    # The file was written by hand: only overwrite: true lets the sink add its block to it.
    deliver(
        DotenvSink(type="dotenv", dialect="shell", path=str(path), overwrite=True), first, make_values(first)
    )
    deliver(
        DotenvSink(type="dotenv", dialect="shell", path=str(path), prefix="OTHER_"),
        second,
        make_values(second),
    )
    # re-deliver the first app without extra values: its stale MAILBOX disappears, nothing else moves
    slim = make_app(extra_values={})
    deliver(DotenvSink(type="dotenv", dialect="shell", path=str(path)), slim, make_values(slim))
    text = path.read_text()
    env = parse_dotenv(text)
    assert env["DEBUG"] == "1"
    assert env["AZURE_CLIENT_ID"] == CLIENT
    assert "stale-hand-written" not in text
    assert "MAILBOX" not in env
    assert env["OTHER_MAILBOX"] == "ops@example.com"
    assert text.count("# >>> provisioner app ops.mail >>>") == 1
    assert text.count("# >>> provisioner app other >>>") == 1
    assert text.startswith("# my settings\nDEBUG=1\n")


def test_dotenv_two_apps_without_prefix_clash(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    first, second = make_app(), make_app(name="other", display_name="Other")
    deliver(DotenvSink(type="dotenv", dialect="shell", path=str(path)), first, make_values(first))
    with pytest.raises(SinkError, match="give one of them a prefix"):
        deliver(DotenvSink(type="dotenv", dialect="shell", path=str(path)), second, make_values(second))


def test_dotenv_unterminated_block_is_reported(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# >>> provisioner app ops.mail >>>\nAZURE_CLIENT_ID=x\n")
    with pytest.raises(SinkError, match="no end marker"):
        deliver(
            DotenvSink(type="dotenv", dialect="shell", path=str(path)), make_app(), make_values(make_app())
        )


def test_dotenv_bad_prefix_is_a_model_error() -> None:
    """A prefix that starts no variable name is refused when the manifest is read, not at delivery."""
    with pytest.raises(ValidationError, match="prefix"):
        DotenvSink(type="dotenv", path="e", prefix="9-X")


# --- GitHub Actions ---------------------------------------------------------------------------------


def test_github_sink_masks_first_then_writes_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "github_output"
    output.write_text("earlier=kept\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    app = make_app(sinks=[{"type": "github", "prefix": "mail_"}])
    receipt = deliver(app.sinks[0], app, make_values(app))
    captured = capsys.readouterr()
    # Mask commands go to stderr (the runner reads both streams; stdout belongs to --json).
    assert captured.out == ""
    assert captured.err.splitlines()[0] == f"::add-mask::{SECRET}"
    assert captured.err.count(SECRET) == 1
    text = output.read_text()
    assert text.startswith("earlier=kept\n")
    outputs = parse_github_output(text.removeprefix("earlier=kept\n"))
    assert outputs["mail_client_secret"] == SECRET
    assert outputs["mail_client_id"] == CLIENT
    assert outputs["mail_client_secret_id"] == KEY_ID
    assert outputs["mail_scopes"] == "offline_access Mail.Send"
    assert outputs["mail_redirect_uris"] == "https://localhost/cb http://localhost"
    assert outputs["mail_mailbox"] == "ops@example.com"
    assert receipt.key_id == KEY_ID
    assert held_key_id(app.sinks[0], app) is None  # outputs do not outlive the job


def test_github_multiline_values_and_mask_escaping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    app = make_app(extra_values={"note": "line one\nline two"})
    values = make_values(app, secret="first-line-of-secret\nsecond 100%")
    deliver(GithubSink(type="github"), app, values)
    out = capsys.readouterr().err.splitlines()
    assert "::add-mask::first-line-of-secret" in out
    assert "::add-mask::second 100%25" in out
    assert parse_github_output(output.read_text())["note"] == "line one\nline two"


@pytest.mark.parametrize("actions", [None, "", "false", "1"])
def test_github_sink_prints_no_mask_outside_github_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], actions: str | None
) -> None:
    """No runner consumes the command outside Actions: printing it would only print the secret."""
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    if actions is None:
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    else:
        monkeypatch.setenv("GITHUB_ACTIONS", actions)
    app = make_app(sinks=[{"type": "github"}])
    deliver(app.sinks[0], app, make_values(app))
    captured = capsys.readouterr()
    assert "::add-mask::" not in captured.out + captured.err
    assert SECRET not in captured.out + captured.err
    assert parse_github_output(output.read_text())["client_secret"] == SECRET


def test_github_sink_without_github_output_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    with pytest.raises(SinkError, match=r"\$GITHUB_OUTPUT"):
        deliver(GithubSink(type="github"), make_app(), make_values(make_app()))


# --- Key Vault --------------------------------------------------------------------------------------


@pytest.mark.skipif(HAS_KEYVAULT, reason="azure-keyvault-secrets is installed")
def test_keyvault_without_the_extra_says_how_to_install_it() -> None:
    sink = KeyVaultSink(type="keyvault", vault_url="https://example-vault.invalid")
    with pytest.raises(SinkError, match=r"provisioner\[keyvault\]") as caught:
        deliver(sink, make_app(), make_values(make_app()))
    assert SECRET not in str(caught.value)
    with pytest.raises(SinkError, match=r"provisioner\[keyvault\]"):
        held_key_id(sink, make_app())


def test_keyvault_secret_names() -> None:
    app = make_app()
    assert secret_name(KeyVaultSink(type="keyvault", vault_url="https://v"), app) == "ops-mail-client-secret"
    assert secret_name(
        KeyVaultSink(type="keyvault", vault_url="https://v", secret_name="mail-secret"), app
    ) == ("mail-secret")
    # Refused when the manifest is read (validate), before anything is minted.
    with pytest.raises(ValidationError, match="letters, digits"):
        KeyVaultSink(type="keyvault", vault_url="https://v", secret_name="bad_name")


# --- deliver_all --------------------------------------------------------------------------------------


def test_deliver_all_writes_default_sink_first(tmp_path: Path) -> None:
    app = make_app(sinks=[{"type": "dotenv", "dialect": "shell", "path": "app.env"}])
    receipts = deliver_all(app, make_values(app), tmp_path)
    default = default_sink_path(app.name, tmp_path / ".provisioner")
    assert default == tmp_path / ".provisioner" / "connections" / "ops.mail.json"
    assert [r.sink for r in receipts] == [f"json file {default}", f"dotenv file {tmp_path / 'app.env'}"]
    assert all(r.key_id == KEY_ID for r in receipts)
    assert mode_of(default) == 0o600
    assert mode_of(default.parent) == 0o700
    assert held_key_ids(app, tmp_path) == {r.sink: KEY_ID for r in receipts}


def test_deliver_all_stops_at_first_failure_and_names_delivered_sinks(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    app = make_app(
        sinks=[
            {"type": "json", "path": "copy.json"},
            {"type": "dotenv", "dialect": "shell", "path": str(blocker / "app.env")},
            {"type": "json", "path": "never.json"},
        ]
    )
    with pytest.raises(PartialDeliveryError) as caught:
        deliver_all(app, make_values(app), tmp_path)
    error = caught.value
    assert isinstance(error, SinkError)
    assert [r.sink for r in error.delivered] == [
        f"json file {default_sink_path(app.name, tmp_path / '.provisioner')}",
        f"json file {tmp_path / 'copy.json'}",
    ]
    assert error.failed == f"dotenv file {blocker / 'app.env'}"
    assert str(blocker / "app.env") in str(error)
    assert "already delivered to" in str(error)
    assert SECRET not in str(error) and "\n" not in str(error)
    assert not (tmp_path / "never.json").exists()


def test_error_reasons_never_carry_a_value() -> None:
    values = {"client_secret": SECRET, "secrets": [{"value": "another-secret-value-123"}]}
    text = reason(RuntimeError(f"server said {SECRET} and another-secret-value-123\nsecond line"), values)
    assert SECRET not in text and "another-secret-value-123" not in text and "\n" not in text


# --- where the value ends up ---------------------------------------------------------------------------


def test_secret_value_appears_only_where_it_is_meant_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run every sink and the masked display; grep everything for the value."""
    work = tmp_path / "work"
    work.mkdir()
    github_output = tmp_path / "gh" / "output"
    github_output.parent.mkdir()
    monkeypatch.setenv("GITHUB_OUTPUT", str(github_output))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    app = make_app(
        sinks=[
            {"type": "json", "path": "out/conn.json"},
            {"type": "dotenv", "dialect": "shell", "path": "out/.env", "prefix": "MAIL_"},
            {"type": "github"},
        ]
    )
    values = make_values(app)
    receipts = deliver_all(app, values, work)
    print(json.dumps(masked(values), indent=2))  # what the CLI would show
    print(receipts)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(SinkError) as caught:
        deliver(DotenvSink(type="dotenv", dialect="shell", path=str(blocker / ".env")), app, values)
    failure_text = str(caught.value)
    captured = capsys.readouterr()

    holders = {
        path.relative_to(tmp_path).as_posix()
        for path in tmp_path.rglob("*")
        if path.is_file() and SECRET.encode() in path.read_bytes()
    }
    assert holders == {
        "work/.provisioner/connections/ops.mail.json",
        "work/out/conn.json",
        "work/out/.env",
        "gh/output",
    }
    stderr_lines = [line for line in captured.err.splitlines() if SECRET in line]
    assert stderr_lines == [f"::add-mask::{SECRET}"]
    assert captured.err.index(f"::add-mask::{SECRET}") == 0
    assert SECRET not in captured.out
    assert SECRET not in failure_text
    assert SECRET not in repr(receipts)
