"""Loopback redirect URI choice and the one-shot listener of `authorize`."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import httpx
import pytest

from provisioner.core.errors import ProvisionerError
from provisioner.manifest import LoadedApp, load_text
from provisioner.oauth.loopback import (
    SUGGESTED_URI,
    LoopbackListener,
    RegisteredLoopback,
    choose_redirect,
    is_loopback,
    loopback_redirects,
)
from provisioner.oauth.token_errors import AuthorizationFailed

STATE = "expected-state-value"


def app_with(redirects: str) -> LoadedApp:
    text = f"""version: 1
apps:
  - name: demo
    display_name: Demo
    redirect_uris:
{redirects}
    permissions:
      Microsoft Graph:
        delegated: [offline_access, User.Read]
"""
    loaded, errors = load_text(text, "inline.yaml")
    assert not errors, errors
    return loaded[0]


BOTH = """      web:
        - https://app.example.com/cb
        - http://localhost:8400/callback
      public_client:
        - http://localhost:9999/Callback"""


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://localhost", True),
        ("http://127.0.0.1:8080/cb", True),
        ("http://LOCALHOST:1/x", True),
        ("https://localhost/cb", False),
        ("http://[::1]:8080/cb", False),
        ("http://example.com/cb", False),
        ("msal123://auth", False),
        ("http://localhost:notaport/", False),
    ],
)
def test_is_loopback(uri: str, expected: bool) -> None:
    assert is_loopback(uri) is expected


def test_confidential_clients_prefer_web_public_clients_public_client() -> None:
    loaded = app_with(BOTH)
    assert [r.platform for r in loopback_redirects(loaded)] == ["web", "public_client"]
    assert choose_redirect(loaded, confidential=True) == RegisteredLoopback(
        "http://localhost:8400/callback", "web"
    )
    assert choose_redirect(loaded, confidential=False) == RegisteredLoopback(
        "http://localhost:9999/Callback", "public_client"
    )


def test_falls_back_to_the_other_platform() -> None:
    loaded = app_with("      web:\n        - http://localhost")
    assert choose_redirect(loaded, confidential=False).platform == "web"


def test_no_loopback_names_the_line_and_what_to_add() -> None:
    loaded = app_with("      web:\n        - https://app.example.com/cb")
    with pytest.raises(ProvisionerError) as info:
        choose_redirect(loaded, confidential=True)
    message = str(info.value)
    assert message.startswith("inline.yaml:6:")  # the web: key under redirect_uris
    assert f"'- {SUGGESTED_URI}' under redirect_uris.web" in message
    assert "provisioner apply" in message and "\n" not in message


@pytest.mark.parametrize(
    ("registered", "port", "sent"),
    [
        ("http://localhost", 5555, "http://localhost:5555/"),
        ("http://localhost:9999/Callback", 5555, "http://localhost:5555/Callback"),
        ("http://127.0.0.1:8400/cb?x=1", 41000, "http://127.0.0.1:41000/cb?x=1"),
    ],
)
def test_redirect_uri_keeps_host_path_and_query(registered: str, port: int, sent: str) -> None:
    assert RegisteredLoopback(registered, "web").with_port(port) == sent


@pytest.fixture
def listener() -> Iterator[LoopbackListener]:
    with LoopbackListener("localhost", 0, "/callback", "", STATE) as running:
        yield running


def get(listener: LoopbackListener, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{listener.port}{path}", trust_env=False)


def test_listener_returns_the_code(listener: LoopbackListener) -> None:
    assert get(listener, "/favicon.ico").status_code == 404
    response = get(listener, f"/callback?code=abc&state={STATE}")
    assert response.status_code == 200 and 'data-status="ok"' in response.text
    result = listener.wait(5)
    assert result.code == "abc" and result.error is None
    assert "abc" not in repr(result)
    again = get(listener, f"/callback?code=other&state={STATE}")
    assert "Already handled" in again.text
    assert listener.wait(5).code == "abc"


@pytest.mark.parametrize(
    ("forged", "status"),
    [
        ("/callback?code=abc&state=forged", 400),  # wrong state
        ("/callback?code=abc", 400),  # no state
        ("/callback?code=abc&state=", 400),  # empty state
        (f"/callback?code=abc&state={STATE}x", 400),  # a prefix of the state is not the state
        ("/callback?error=access_denied&state=forged", 400),  # a forged error must not end the sign-in
        ("/callback?error=access_denied", 400),
        (f"/callback?state={STATE}", 400),  # neither code nor error
        (f"/elsewhere?code=abc&state={STATE}", 404),  # another path
        ("/", 404),
    ],
)
def test_a_forged_request_is_answered_and_ignored(
    listener: LoopbackListener, forged: str, status: int
) -> None:
    """One stray or forged request must not abort the user's real sign-in: the listener keeps waiting."""
    response = get(listener, forged)
    assert response.status_code == status
    assert 'data-status="ok"' not in response.text
    assert listener.ignored == 1
    with pytest.raises(AuthorizationFailed, match=r"within 0\.05 s \(1 request\(s\) that were not"):
        listener.wait(0.05)  # nothing taken: still waiting
    real = get(listener, f"/callback?code=real&state={STATE}")
    assert real.status_code == 200 and 'data-status="ok"' in real.text
    assert listener.wait(5).code == "real"


def test_many_forged_requests_then_the_real_redirect(listener: LoopbackListener) -> None:
    for attempt in range(20):
        assert get(listener, f"/callback?code=forged{attempt}&state=guess{attempt}").status_code == 400
    assert get(listener, f"/callback?code=real&state={STATE}").status_code == 200
    result = listener.wait(5)
    assert result.code == "real" and listener.ignored == 20
    assert "Already handled" in get(listener, "/callback?code=late&state=forged").text
    assert listener.wait(5).code == "real"


def test_listener_reports_an_error_redirect(listener: LoopbackListener) -> None:
    get(listener, f"/callback?error=access_denied&error_description=AADSTS65004%3A+declined&state={STATE}")
    result = listener.wait(5)
    assert result.code is None and result.error == "access_denied"
    assert result.error_description.startswith("AADSTS65004")


def test_listener_wait_is_bounded() -> None:
    with (
        LoopbackListener("127.0.0.1", 0, "/", "", STATE) as idle,
        pytest.raises(AuthorizationFailed, match="--timeout"),
    ):
        idle.wait(0.05)


def test_listener_requires_the_registered_query() -> None:
    with LoopbackListener("127.0.0.1", 0, "/cb", "tenant=a", STATE) as running:
        assert get(running, f"/cb?code=x&state={STATE}").status_code == 404
        assert get(running, f"/cb?tenant=a&code=x&state={STATE}").status_code == 200
        assert running.wait(5).code == "x"


def test_busy_port_raises_oserror(listener: LoopbackListener) -> None:
    with pytest.raises(OSError) as caught:
        LoopbackListener("127.0.0.1", listener.port, "/", "", STATE).start()
    assert caught.value.errno == errno.EADDRINUSE
