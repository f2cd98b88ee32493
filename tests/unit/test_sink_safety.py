"""Sinks never touch what is not theirs, and everything that can fail locally is known before a mint.

Covers issue 12's sink rules: paths outside the base folder need ``allow_outside``; a file the
tool did not write is never replaced or appended to without ``overwrite`` and never changes
mode; two sinks of a run never share a destination; :func:`provisioner.sinks.preflight`
reports every local problem, one line each, without writing.
"""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path
from typing import Any

import pytest

from provisioner.core.errors import SinkError
from provisioner.manifest import validate_paths
from provisioner.model.connections import MintedSecret, connection_values
from provisioner.model.manifest import App, DotenvSink, JsonSink
from provisioner.sinks import deliver, deliver_all, describe_destination, preflight
from provisioner.sinks.keyvault_sink import extra_missing

SECRET = "Xy78Q~Secret.Value_with-known-marker-9f3a2c"
KEY_ID = "5f1d2e3c-0000-4000-8000-00000000abcd"
TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
BASHRC = "# ~/.bashrc\nexport PATH=$HOME/bin:$PATH\nalias ll='ls -l'\n"


def make_app(sinks: list[dict[str, Any]] | None = None, **fields: Any) -> App:
    return App.model_validate(
        {"name": "ops.mail", "display_name": "Ops mail", "secrets": [{"name": "main"}], "sinks": sinks or []}
        | fields
    )


def values(app: App) -> dict[str, Any]:
    from datetime import UTC, datetime

    minted = [MintedSecret("main", KEY_ID, SECRET, SECRET[:3], datetime(2027, 3, 1, tzinfo=UTC))]
    return connection_values(app, tenant_id=TENANT, client_id=CLIENT, minted=minted)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every entry under ``root``: content (None for folders) and mode, to prove nothing was written."""
    return {
        str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes(), mode_of(p))
        for p in root.rglob("*")
    }


# --- files the tool did not write -------------------------------------------------------------------


def test_json_sink_refuses_to_replace_an_unrelated_json_file(tmp_path: Path) -> None:
    target = tmp_path / "package.json"
    target.write_text('{"name": "my-app", "version": "1.0.0"}\n')
    target.chmod(0o644)
    app = make_app()
    with pytest.raises(SinkError, match="was not written by provisioner") as caught:
        deliver(JsonSink(type="json", path=str(target)), app, values(app))
    assert target.read_text() == '{"name": "my-app", "version": "1.0.0"}\n' and mode_of(target) == 0o644
    assert SECRET not in str(caught.value) and "\n" not in str(caught.value)


def test_json_sink_refuses_another_apps_connection_file_and_invalid_json(tmp_path: Path) -> None:
    other = make_app(name="other.app")
    target = tmp_path / "c.json"
    deliver(JsonSink(type="json", path=str(target)), other, values(other))
    with pytest.raises(SinkError, match=r"holds the connection values of app 'other\.app'"):
        deliver(JsonSink(type="json", path=str(target)), make_app(), values(make_app()))
    target.write_text("{broken")
    with pytest.raises(SinkError, match=r"not valid JSON \(line 1\)"):
        deliver(JsonSink(type="json", path=str(target)), make_app(), values(make_app()))
    assert target.read_text() == "{broken"


def test_json_sink_replaces_its_own_file_and_overwrite_keeps_a_foreign_files_mode(tmp_path: Path) -> None:
    app = make_app()
    own = tmp_path / "own.json"
    deliver(JsonSink(type="json", path=str(own)), app, values(app))
    assert mode_of(own) == 0o600  # created by the tool
    deliver(JsonSink(type="json", path=str(own)), app, values(app))  # its own file: no opt-in needed
    foreign = tmp_path / "foreign.json"
    foreign.write_text("[]")
    foreign.chmod(0o640)
    deliver(JsonSink(type="json", path=str(foreign), overwrite=True), app, values(app))
    assert json.loads(foreign.read_text())["client_secret"] == SECRET
    assert mode_of(foreign) == 0o640  # never changes the mode of a file it did not create


def test_dotenv_sink_never_appends_to_a_foreign_file(tmp_path: Path) -> None:
    """The dotenv sink appended the secret to ~/.bashrc and changed its mode."""
    bashrc = tmp_path / ".bashrc"
    bashrc.write_text(BASHRC)
    bashrc.chmod(0o644)
    app = make_app()
    with pytest.raises(SinkError, match=r"was not written by provisioner \(no provisioner block"):
        deliver(DotenvSink(type="dotenv", path=str(bashrc)), app, values(app))
    assert bashrc.read_text() == BASHRC and mode_of(bashrc) == 0o644


def test_dotenv_overwrite_adds_the_block_keeps_lines_and_mode(tmp_path: Path) -> None:
    env = tmp_path / "service.env"
    env.write_text("DEBUG=1\n")
    env.chmod(0o640)
    app = make_app()
    sink = DotenvSink(type="dotenv", path=str(env), overwrite=True)
    deliver(sink, app, values(app))
    deliver(DotenvSink(type="dotenv", path=str(env)), app, values(app))  # now it holds the tool's block
    text = env.read_text()
    assert text.startswith("DEBUG=1\n") and text.count("# >>> provisioner app ops.mail >>>") == 1
    assert mode_of(env) == 0o640


# --- validate: paths, collisions, names -------------------------------------------------------------


def write_manifest(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def errors_of(tmp_path: Path, *files: Path, **kwargs: Any) -> list[str]:
    return [str(e) for e in validate_paths([str(f) for f in files], base_dir=tmp_path, **kwargs).errors]


@pytest.mark.parametrize(
    "path", ["/etc/provisioner.json", "../x.json", "~/x.json", "out/../../x.json", "link/x.json"]
)
def test_paths_outside_the_base_folder_need_allow_outside(tmp_path: Path, path: str) -> None:
    base = tmp_path / "project"
    base.mkdir()
    (base / "link").symlink_to(tmp_path)  # a symlink escaping the base folder
    manifest = write_manifest(
        base,
        "m.yaml",
        f"""\
        version: 1
        apps:
          - name: demo
            display_name: Demo
            sinks:
              - type: json
                path: {path}
        """,
    )
    errors = errors_of(base, manifest)
    assert len(errors) == 1 and f"{manifest}:7:" in errors[0] and "allow_outside: true" in errors[0]
    manifest.write_text(manifest.read_text() + "        allow_outside: true\n")
    assert errors_of(base, manifest) == []


def test_paths_inside_the_base_folder_are_unchanged(tmp_path: Path) -> None:
    """Relative paths resolve against the base folder as before; `./a/../b` is still inside."""
    manifest = write_manifest(
        tmp_path,
        "m.yaml",
        """\
        version: 1
        apps:
          - name: demo
            display_name: Demo
            sinks:
              - {type: json, path: out/demo.json}
              - {type: dotenv, path: ./cfg/../demo.env}
        """,
    )
    assert errors_of(tmp_path, manifest) == []
    app = validate_paths([str(manifest)], base_dir=tmp_path).apps[0].app
    assert [describe_destination(s, app, tmp_path) for s in app.sinks] == [
        "json file out/demo.json",
        "dotenv file demo.env",
    ]


def test_collisions_across_manifests_name_both_places(tmp_path: Path) -> None:
    """`mail.sync` / `mail_sync` / `mail-sync` and `out/x.json` / `./out/../out/x.json`, in two files."""
    first = write_manifest(
        tmp_path,
        "a.yaml",
        """\
        version: 1
        apps:
          - name: mail.sync
            display_name: Mail sync
            sinks:
              - {type: keyvault, vault_url: "https://ops.vault.azure.net"}
              - {type: json, path: out/x.json}
              - {type: dotenv, path: out/shared.env, prefix: A_}
        """,
    )
    second = write_manifest(
        tmp_path,
        "b.yaml",
        """\
        version: 1
        apps:
          - name: mail_sync
            display_name: Mail sync 2
            sinks:
              - {type: keyvault, vault_url: "https://OPS.vault.azure.net/"}
              - {type: json, path: ./out/../out/x.json}
              - {type: dotenv, path: out/shared.env, prefix: B_}
          - name: mail-sync
            display_name: Mail sync 3
            sinks:
              - {type: keyvault, vault_url: "https://ops.vault.azure.net", secret_name: Mail-Sync-Client-Secret}
              - {type: dotenv, path: out/shared.env, prefix: A_}
              - {type: dotenv, path: out/shared.env, prefix: C_}
        """,
    )
    kv = "Key Vault names ignore case and default names turn '.' and '_' into '-': set secret_name"
    assert errors_of(tmp_path, first, second) == [
        f"{second}:6:9: apps[0].sinks[0]: writes the same Key Vault secret (mail-sync-client-secret) as sinks[0] "
        f"of app 'mail.sync' ({first}:6); {kv}",
        f"{second}:7:9: apps[0].sinks[1]: writes the same file as sinks[1] of app 'mail.sync' ({first}:7); "
        "every file sink needs a file of its own",
        f"{second}:12:9: apps[1].sinks[0]: writes the same Key Vault secret (Mail-Sync-Client-Secret) as sinks[0] "
        f"of app 'mail.sync' ({first}:6); {kv}",
        f"{second}:13:9: apps[1].sinks[1]: writes dotenv variable A_AUTHORIZATION_URL into the same file as "
        f"sinks[2] of app 'mail.sync' ({first}:8); give one of them a prefix",
        f"{second}:14:9: apps[1].sinks[2]: writes the same dotenv block as sinks[1] of app 'mail-sync' "
        f"({second}:13); remove one of the two sinks",
    ]


def test_a_certificates_vault_secret_may_not_meet_another_vault_secret(tmp_path: Path) -> None:
    """certificate_name (or its default '<secret name>-certificate') against every vault secret of the run."""
    manifest = write_manifest(
        tmp_path,
        "m.yaml",
        """\
        version: 1
        apps:
          - name: daemon
            display_name: Daemon
            certificates: [{name: main}]
            sinks:
              - {type: keyvault, vault_url: "https://ops.vault.azure.net", certificate_name: Daemon-Client-Secret}
          - name: other
            display_name: Other
            certificates: [{name: main}]
            sinks:
              - {type: keyvault, vault_url: "https://OPS.vault.azure.net/", secret_name: daemon-client-secret-x}
              - {type: keyvault, vault_url: "https://ops.vault.azure.net", secret_name: other-a}
          - name: third
            display_name: Third
            certificates: [{name: main}]
            sinks:
              - {type: keyvault, vault_url: "https://ops.vault.azure.net", certificate_name: other-a-certificate}
              - {type: keyvault, vault_url: "https://elsewhere.vault.azure.net", certificate_name: other-a-certificate}
        """,
    )
    advice = "Key Vault names ignore case: set certificate_name"
    assert errors_of(tmp_path, manifest) == [
        f"{manifest}:7:86: apps[0].sinks[0].certificate_name: the certificate's Key Vault secret "
        f"(daemon-client-secret) is also the client secret of sinks[0] of app 'daemon' ({manifest}:7); {advice}",
        f"{manifest}:18:86: apps[2].sinks[0].certificate_name: the certificate's Key Vault secret "
        f"(other-a-certificate) is also the certificate of sinks[1] of app 'other' ({manifest}:13); {advice}",
    ]
    # Apart, the same sinks validate: the default name, and a name of its own.
    fine = write_manifest(
        tmp_path,
        "fine.yaml",
        """\
        version: 1
        apps:
          - name: daemon
            display_name: Daemon
            certificates: [{name: main}]
            sinks:
              - {type: keyvault, vault_url: "https://ops.vault.azure.net"}
              - {type: keyvault, vault_url: "https://ops.vault.azure.net", secret_name: b, certificate_name: b-cert}
        """,
    )
    assert errors_of(tmp_path, fine) == []


def test_sinks_inside_the_state_folder_are_refused(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path,
        "m.yaml",
        """\
        version: 1
        apps:
          - name: demo
            display_name: Demo
            sinks:
              - {type: json, path: state/connections/other.json}
        """,
    )
    assert errors_of(tmp_path, manifest) == []
    (error,) = errors_of(tmp_path, manifest, state_dir=tmp_path / "state")
    assert "inside the state folder" in error and f"{manifest}:6:" in error


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("display_name", '"Demo\\e[2J"', "U+001B"),
        ("display_name", '"Demo\\r\\nNo changes."', "U+000D"),
        ("display_name", '"Demo\\0"', "U+0000"),
        ("display_name", '"Demo \\u202e"', "U+202E"),
        ("display_name", '"Demo\\u2028"', "U+2028"),
        ("display_name", '"Demo\\x85"', "U+0085"),
        ("tags", '["ok", "bad\\e"]', "U+001B"),
        ("owners", '["ops@example.com\\e[1A"]', "U+001B"),
        ("extra_values", '{"key\\u202e": v}', "U+202E"),
        ("notes", '"line one\\nline two\\e"', "U+001B"),
    ],
)
def test_printed_text_with_control_bidi_or_separators_is_refused(
    tmp_path: Path, field: str, value: str, code: str
) -> None:
    manifest = write_manifest(
        tmp_path,
        "m.yaml",
        f"""\
        version: 1
        apps:
          - name: demo
            display_name: Demo
            {field}: {value}
        """.replace("display_name: Demo\n            display_name", "display_name"),
    )
    (error,) = errors_of(tmp_path, manifest)
    assert f"holds {code}" in error and error.startswith(f"{manifest}:")
    assert all(ch.isprintable() for ch in error)


def test_notes_may_hold_line_breaks(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path,
        "m.yaml",
        """\
        version: 1
        apps:
          - name: demo
            display_name: Demo
            notes: "first line\\nsecond line"
        """,
    )
    assert errors_of(tmp_path, manifest) == []


def test_permission_names_of_unknown_resources_are_checked_for_control_characters(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path,
        "m.yaml",
        """\
        version: 1
        apps:
          - name: demo
            display_name: Demo
            permissions:
              "11111111-2222-3333-4444-555555555555":
                delegated: ["read\\e[2J"]
        """,
    )
    (error,) = errors_of(tmp_path, manifest)
    assert "holds U+001B" in error and ":7:" in error


def test_dotenv_values_known_offline_are_checked_per_dialect(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path,
        "m.yaml",
        """\
        version: 1
        apps:
          - name: demo
            display_name: Demo
            permissions:
              graph: {delegated: [User.Read]}
            extra_values:
              motd: "it's $(touch x)"
            sinks:
              - {type: dotenv, path: a.env}
              - {type: dotenv, path: b.env, dialect: shell}
              - {type: dotenv, path: c.env, dialect: docker}
        """,
    )
    errors = errors_of(tmp_path, manifest)
    assert len(errors) == 2, errors
    assert (
        f"{manifest}:10:9: apps[0].sinks[0]: dotenv (portable) cannot carry MOTD (from extra_values.motd)"
        in errors[0]
    )
    assert f"{manifest}:11:9: apps[0].sinks[1]: dotenv (shell) cannot carry MOTD" in errors[1]
    assert "together with '$'" in errors[1]


def test_extra_values_that_map_onto_one_dotenv_variable_are_refused(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path,
        "m.yaml",
        """\
        version: 1
        apps:
          - name: demo
            display_name: Demo
            extra_values: {token-url: a, mail-box: b, mail_box: c}
            sinks:
              - {type: dotenv, path: a.env}
        """,
    )
    errors = errors_of(tmp_path, manifest)
    assert any("'token_url' and 'token-url' both give dotenv variable TOKEN_URL" in e for e in errors), errors
    assert any("'mail-box' and 'mail_box' both give dotenv variable MAIL_BOX" in e for e in errors), errors


# --- preflight -------------------------------------------------------------------------------------


def lines(problems: list[SinkError]) -> list[str]:
    out = [str(p) for p in problems]
    assert all("\n" not in line and SECRET not in line for line in out)
    return out


def test_preflight_of_a_clean_app_finds_nothing_and_writes_nothing(tmp_path: Path) -> None:
    app = make_app(
        sinks=[
            {"type": "json", "path": "out/ops.json"},
            {"type": "dotenv", "path": "out/ops.env", "prefix": "OPS_"},
        ]
    )
    assert preflight(app, tmp_path) == []
    assert snapshot(tmp_path) == {}
    deliver_all(app, values(app), tmp_path)
    assert preflight(app, tmp_path) == []  # the tool's own files


def test_preflight_reports_every_local_problem_without_writing(tmp_path: Path) -> None:
    (tmp_path / ".provisioner" / "connections").mkdir(parents=True)
    (tmp_path / ".provisioner" / "connections" / "ops.mail.json").write_text("{not json")
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "half.env").write_text("# >>> provisioner app ops.mail >>>\nAZURE_CLIENT_ID=x\n")
    (tmp_path / "user.env").write_text("DEBUG=1\n")
    (tmp_path / "afile").write_text("")
    (tmp_path / "other.json").write_text('{"name": "x"}')
    app = make_app(
        sinks=[
            {"type": "json", "path": "folder.json"},
            {"type": "dotenv", "path": "half.env"},
            {"type": "dotenv", "path": "user.env"},
            {"type": "json", "path": "afile/below.json"},
            {"type": "json", "path": "other.json"},
            {"type": "json", "path": "/etc/outside.json"},
        ],
        extra_values={"motd": "hello world", "banner": "it's"},
    )
    before = snapshot(tmp_path)
    found = lines(preflight(app, tmp_path))
    assert snapshot(tmp_path) == before
    expect = [
        "default connection file",
        "connection file",
        "not valid JSON",
        "sink 1 (json file",
        "is a folder",
        "sink 2 (dotenv file",
        "has no end marker",
        "sink 3 (dotenv file",
        "was not written by provisioner",
        "sink 4 (json file",
        "is a file, not a folder",
        "sink 5 (json file",
        "sink 6 (json file",
        "outside",
        "cannot carry MOTD",
    ]
    text = "\n".join(found)
    for fragment in expect:
        assert fragment in text, (fragment, found)
    assert all(line.startswith("app 'ops.mail': ") for line in found)
    assert sum("cannot carry MOTD" in line for line in found) == 2  # both dotenv sinks
    assert sum("cannot carry BANNER" in line for line in found) == 2  # every problem, not only the first


def test_preflight_checks_runtime_values_when_given(tmp_path: Path) -> None:
    app = make_app(sinks=[{"type": "dotenv", "path": "a.env"}])
    runtime = connection_values(
        app, tenant_id=TENANT, client_id=CLIENT, authority_host="https://h/~x:~y", minted=[]
    )
    found = lines(preflight(app, tmp_path, values=runtime))
    assert any("cannot carry AZURE_AUTHORITY_HOST" in line for line in found)
    assert any("cannot carry TOKEN_URL" in line for line in found)  # every value built from the host
    assert all("'~'" in line for line in found)


def test_preflight_reports_an_empty_path(tmp_path: Path) -> None:
    """An empty path passes no manifest (validate refuses it); a model built in code still gets one line."""
    app = make_app().model_copy(
        update={
            "sinks": [JsonSink.model_construct(type="json", path="", overwrite=False, allow_outside=False)]
        }
    )
    (problem,) = lines(preflight(app, tmp_path))
    assert "is a folder" in problem


def test_preflight_github_and_keyvault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    app = make_app(sinks=[{"type": "github"}, {"type": "keyvault", "vault_url": "https://v.vault.azure.net"}])
    found = lines(preflight(app, tmp_path))
    assert any("$GITHUB_OUTPUT is not set" in line for line in found)
    assert any("provisioner[keyvault]" in line for line in found) == extra_missing()
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "gh" / "out"))
    assert not any("GITHUB_OUTPUT" in line for line in lines(preflight(app, tmp_path)))


def test_preflight_reports_a_folder_it_may_not_write(tmp_path: Path) -> None:
    """Permission: checked as an unprivileged user (root may write anywhere, so root forks one)."""
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="provisioner-perm-"))
    try:
        work.chmod(0o755)
        locked = work / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        app = make_app(sinks=[{"type": "json", "path": "locked/x.json"}])
        found = _preflight_unprivileged(app, work, locked / "state")
        assert any("sink 1" in line and f"folder {locked} is not writable" in line for line in found), found
        assert any("default connection file" in line and "not writable" in line for line in found), found
        assert sorted(p.name for p in work.rglob("*")) == ["locked"]
    finally:
        (work / "locked").chmod(0o755)
        import shutil

        shutil.rmtree(work)


def _preflight_unprivileged(app: App, base: Path, state: Path) -> list[str]:
    if os.geteuid() != 0:
        return lines(preflight(app, base, state))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            os.write(write, "\n".join(str(p) for p in preflight(app, base, state)).encode())
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode().splitlines()


def test_resource_aliases_give_scopes_and_are_checked_offline(tmp_path: Path) -> None:
    """`graph:` is accepted by validate, so connection values (and the dotenv checks) must know it too."""
    app = make_app(permissions={"graph": {"delegated": ["User.Read", "offline_access"]}})
    assert (
        connection_values(app, tenant_id=TENANT, client_id=CLIENT, minted=[])["scopes"]
        == "offline_access User.Read"
    )
    manifest = write_manifest(
        tmp_path,
        "m.yaml",
        """\
        version: 1
        apps:
          - name: demo
            display_name: Demo
            permissions:
              graph: {delegated: [User.Read, offline_access]}
            sinks:
              - {type: dotenv, path: a.env}
        """,
    )
    (error,) = errors_of(tmp_path, manifest)
    assert "cannot carry SCOPES: it holds a space" in error and "set dialect: shell" in error


def test_github_output_names_are_checked_before_a_mint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_manifest(
        tmp_path,
        "m.yaml",
        """\
        version: 1
        apps:
          - name: demo
            display_name: Demo
            extra_values: {"my.key": x}
            sinks:
              - {type: github}
              - {type: github, prefix: ok_}
        """,
    )
    first, second = errors_of(tmp_path, manifest)
    assert f"{manifest}:7:9: apps[0].sinks[0]: 'my.key' is not a valid GitHub Actions output name" in first
    assert (
        f"{manifest}:8:9: apps[0].sinks[1]: 'ok_my.key' is not a valid GitHub Actions output name" in second
    )
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    app = make_app(sinks=[{"type": "github"}], extra_values={"my.key": "x"})
    (problem,) = lines(preflight(app, tmp_path))
    assert "sink 1 (GitHub Actions outputs" in problem and "'my.key'" in problem
    assert not (tmp_path / "out").exists()
