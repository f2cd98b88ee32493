"""The ``github_secret`` sink's pure parts: the model's rules, names, sealed boxes, error lines.

Network behaviour (delivery, holdings, preflight) runs through the real CLI against a loopback
stand-in in tests/integration/test_github_secret_sink.py.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from nacl.public import PrivateKey, SealedBox
from pydantic import ValidationError

from provisioner.core.errors import SinkError
from provisioner.model.manifest import App, GithubSecretSink, github_name_problem
from provisioner.sinks import github_secret_sink as gs
from provisioner.sinks.deliver import describe_destination


def sink(**fields: Any) -> GithubSecretSink:
    return GithubSecretSink.model_validate({"type": "github_secret", **fields})


def app(name: str = "exchange-connector", *sinks: GithubSecretSink) -> App:
    return App(name=name, display_name="X", sinks=list(sinks))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("EXCHANGE_CLIENT_SECRET", None),
        ("_private", None),
        ("github_token_copy", "GITHUB_"),
        ("GITHUB_X", "GITHUB_"),
        ("1SECRET", "start with a digit"),
        ("MY-SECRET", "letters, digits and '_'"),
        ("MY SECRET", "letters, digits and '_'"),
        ("", "letters, digits and '_'"),
    ],
)
def test_github_names(name: str, problem: str | None) -> None:
    found = github_name_problem(name)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "exactly one of repository or organization"),
        ({"repository": "octo/r", "organization": "octo", "visibility": "all"}, "exactly one"),
        ({"repository": "octo"}, "must be 'owner/name'"),
        ({"organization": "octo"}, "needs visibility"),
        ({"organization": "octo", "visibility": "selected"}, "needs selected_repositories"),
        (
            {"organization": "octo", "visibility": "all", "selected_repositories": ["r"]},
            "needs visibility: selected",
        ),
        ({"organization": "octo", "visibility": "all", "environment": "prod"}, "belongs to a repository"),
        ({"repository": "octo/r", "visibility": "all"}, "belong to organization secrets"),
        ({"repository": "octo/r", "secret_name": "GITHUB_SECRET"}, "must not start with GITHUB_"),
        ({"repository": "octo/r", "secret_name": "9LIVES"}, "must not start with a digit"),
        ({"repository": "octo/r", "api_url": "http://ghe.example/api/v3"}, "https://"),
        ({"repository": "octo/r", "token_env": "MY-TOKEN"}, "not an environment variable name"),
        ({"repository": "octo/r", "environment": " prod"}, "leading or trailing spaces"),
        ({"repository": "octo/r", "visbility": "all"}, "Extra inputs are not permitted"),
    ],
)
def test_the_model_refuses_what_github_would(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        sink(**fields)


def test_default_names_follow_the_app_name() -> None:
    target = sink(repository="octo/r", variables=True)
    the_app = app("mail.sync-2", target)
    assert gs.secret_name(target, the_app) == "MAIL_SYNC_2_CLIENT_SECRET"
    assert gs.companion_name(target, the_app) == "MAIL_SYNC_2_CLIENT_SECRET_KEY_ID"
    values = {
        "client_id": "c",
        "client_secret": "s3cret",
        "tenant_id": "t",
        "app": "x",
        "scopes": ["a", "b"],
        "x": "",
    }
    assert gs.variable_values(target, the_app, values) == {
        "MAIL_SYNC_2_CLIENT_ID": "c",
        "MAIL_SYNC_2_TENANT_ID": "t",
        "MAIL_SYNC_2_SCOPES": "a b",
    }
    # An app name starting with a digit has no valid default: one line, never a traceback.
    digit = sink(repository="octo/r")
    with pytest.raises(SinkError, match="must not start with a digit; set secret_name"):
        gs.secret_name(digit, app("1app", digit))


def test_a_variable_may_not_overwrite_the_keyid_record() -> None:
    target = sink(repository="octo/r", variables=True, secret_name="X", variable_prefix="X_")
    the_app = app("a", target)
    problems = gs.variable_problems(
        target, the_app, {"client_secret": "s", "client_secret_id": "k", "key_id": "v"}
    )
    assert problems == ["variable X_KEY_ID would overwrite the keyId record; set variable_prefix"]


def test_plan_shows_the_target() -> None:
    env = sink(repository="octo/deploy", environment="prod", variables=True)
    org = sink(organization="octo", visibility="selected", selected_repositories=["a", "b"], secret_name="S")
    ghes = sink(repository="octo/deploy", api_url="https://ghe.example.com/api/v3/")
    the_app = app("svc", env, org, ghes)
    assert describe_destination(env, the_app, None) == (
        "GitHub Actions secret SVC_CLIENT_SECRET in octo/deploy environment prod "
        "(keyId record in variable SVC_CLIENT_SECRET_KEY_ID; values as variables SVC_*)"
    )
    assert describe_destination(org, the_app, None).startswith(
        "GitHub Actions secret S in organization octo (visibility selected) ("
    )
    assert "repositories a, b" in describe_destination(org, the_app, None)
    assert (
        gs.describe(ghes, the_app)
        == "GitHub Actions secret SVC_CLIENT_SECRET in octo/deploy at ghe.example.com"
    )


def test_a_sealed_box_opens_with_the_targets_private_key_only() -> None:
    key = PrivateKey.generate()
    sealed = gs._seal(bytes(key.public_key), "välue\nwith lines")
    assert SealedBox(key).decrypt(base64.b64decode(sealed)).decode() == "välue\nwith lines"
    with pytest.raises(Exception):  # noqa: B017 - any failure: another key cannot open it
        SealedBox(PrivateKey.generate()).decrypt(base64.b64decode(sealed))


def _explain(monkeypatch: pytest.MonkeyPatch, status: int, body: Any = None, **headers: str) -> str:
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    target = sink(repository="octo/r")
    api = gs._Api(target, app("a", target), {"client_secret": "s3cret-value"})
    try:
        return api.explain(httpx.Response(status, json=body, headers=headers))
    finally:
        api.close()


def test_error_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    reset = "1798761600"  # 2027-01-01T00:00:00Z
    primary = _explain(
        monkeypatch,
        403,
        {"message": "API rate limit exceeded"},
        **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
    )
    assert (
        primary == "GitHub rate limit reached (HTTP 403); it resets at 2027-01-01T00:00:00Z, run again then"
    )
    assert "at 2027-01-01T00:00:00Z" in _explain(
        monkeypatch, 429, {}, **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    )
    secondary = _explain(
        monkeypatch, 403, {"message": "You have exceeded a secondary rate limit"}, **{"retry-after": "60"}
    )
    assert secondary == "GitHub secondary rate limit (HTTP 403); retry after 60 s"
    assert _explain(monkeypatch, 401, {"message": "Bad credentials"}).startswith(
        "GitHub rejected the token (HTTP 401: Bad credentials); check GITHUB_TOKEN or GH_TOKEN"
    )
    assert "not allowed (HTTP 403: Resource not accessible by integration)" in _explain(
        monkeypatch, 403, {"message": "Resource not accessible by integration"}
    )
    assert "HTTP 404" in _explain(monkeypatch, 404, {"message": "Not Found"})
    # GitHub's text is one printable line and never carries a value this run holds.
    odd = _explain(monkeypatch, 422, {"message": "bad s3cret-value\n\x1b[31mred"})
    assert "s3cret-value" not in odd and "\n" not in odd and "\x1b" not in odd
    assert _explain(monkeypatch, 502, None) == "GitHub answered HTTP 502"


def test_no_token_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    target = sink(repository="octo/r", token_env="APP_TOKEN")
    with pytest.raises(
        SinkError,
        match=r"^app 'a': GitHub Actions secret A_CLIENT_SECRET in octo/r: no GitHub token: set APP_TOKEN ",
    ):
        gs._Api(target, app("a", target))
    problems: list[str] = []
    gs.preflight(target, app("a", target), {}, problems.append)
    assert len(problems) == 1 and problems[0].startswith("no GitHub token: set APP_TOKEN")


def test_validate_names_the_sink_for_an_invalid_default_name_and_a_shared_secret(tmp_path: Any) -> None:
    from provisioner.manifest import validate_paths

    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\n"
        "apps:\n"
        "  - name: 9lives\n"
        "    display_name: A\n"
        "    sinks:\n"
        "      - {type: github_secret, repository: octo/r}\n"
        "  - name: svc\n"
        "    display_name: B\n"
        "    sinks:\n"
        "      - {type: github_secret, repository: octo/r, secret_name: shared}\n"
        "      - {type: github_secret, repository: Octo/R, secret_name: SHARED}\n"
        "      - {type: github_secret, repository: octo/r, environment: prod, secret_name: SHARED}\n",
        encoding="utf-8",
    )
    errors = validate_paths([str(path)]).errors
    lines = [str(e) for e in errors]
    assert len(errors) == 2, lines
    assert ":6:" in lines[0] and "the default GitHub secret name '9LIVES_CLIENT_SECRET'" in lines[0]
    assert (
        ":11:" in lines[1] and "writes the same GitHub secret (SHARED) as sinks[0] of app 'svc'" in lines[1]
    )
