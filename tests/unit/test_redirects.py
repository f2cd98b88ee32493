"""Redirect URI rules (graph-facts.md) and the normalisation the planner relies on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.model.manifest import Audience
from provisioner.model.redirects import check_uri, max_uris, normalize

ORG = Audience.SINGLE_TENANT
PERSONAL = Audience.MULTI_TENANT_AND_PERSONAL


def errors(uri: str, platform: str = "web", audience: Audience = ORG) -> list[str]:
    return [p.message for p in check_uri(uri, platform, audience) if p.severity == "error"]  # type: ignore[arg-type]


def warnings(uri: str, platform: str = "web", audience: Audience = ORG) -> list[str]:
    return [p.message for p in check_uri(uri, platform, audience) if p.severity == "warning"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("uri", "platform"),
    [
        ("https://integrations.example.com/oauth/callback", "web"),
        ("https://integrations.example.com", "web"),
        ("http://localhost", "web"),
        ("http://localhost:5000/signin-oidc", "web"),
        ("http://127.0.0.1:8400/cb", "web"),
        ("https://localhost", "web"),
        ("https://app.example.com/cb?tenant=contoso", "web"),
        ("https://spa.example.com/", "spa"),
        ("http://localhost:3000", "spa"),
        ("http://localhost:9999/Callback", "public_client"),
        ("myapp://auth", "public_client"),
        ("msauth.com.example.app://auth", "public_client"),
        ("https://login.microsoftonline.com/common/oauth2/nativeclient", "public_client"),
    ],
)
def test_accepted(uri: str, platform: str) -> None:
    assert errors(uri, platform) == []


@pytest.mark.parametrize(
    ("uri", "platform", "audience", "fragment"),
    [
        ("http://app.example.com/cb", "web", ORG, "http is only allowed for localhost"),
        ("http://app.example.com/cb", "public_client", ORG, "http is only allowed for localhost"),
        ("http://spa.example.com/", "spa", ORG, "http is only allowed for localhost"),
        ("http://[::1]:8080/cb", "web", ORG, "[::1] is not supported"),
        ("https://[::1]/cb", "public_client", ORG, "[::1] is not supported"),
        ("https://app.example.com/" + "a" * 240, "web", ORG, "the limit is 256"),
        ("https://app.example.com/a!b", "web", ORG, "Entra does not allow"),
        ("https://app.example.com/a$b", "web", ORG, "'$'"),
        ("https://app.example.com/(x)", "web", ORG, "'(' ')'"),
        ("https://app.example.com/a,b", "web", ORG, "','"),
        ("https://app.example.com/it's", "web", ORG, '"\'"'),
        ("https://app.example.com/cb#frag", "web", ORG, "fragment"),
        ("https://app.example.com/a b", "web", ORG, "whitespace"),
        ("myapp://auth", "web", ORG, "belong under public_client"),
        ("myapp://auth", "spa", ORG, "belong under public_client"),
        ("javascript://alert", "public_client", ORG, "cannot be a redirect target"),
        ("app.example.com/cb", "web", ORG, "needs a scheme"),
        ("urn:ietf:wg:oauth:2.0:oob", "public_client", ORG, "needs a scheme"),
        ("https:///cb", "web", ORG, "has no host"),
        ("https://app.example.com:99999/cb", "web", ORG, "not a valid URI"),
        ("https://*.example.com/cb", "web", PERSONAL, "wildcard"),
        ("https://*.example.com/cb", "web", Audience.PERSONAL, "wildcard"),
        ("https://app.example.com/cb?x=1", "web", PERSONAL, "query strings"),
        ("", "web", ORG, "empty"),
    ],
)
def test_rejected(uri: str, platform: str, audience: Audience, fragment: str) -> None:
    found = errors(uri, platform, audience)
    assert any(fragment in message for message in found), found


def test_wildcard_is_only_a_warning_for_entra_only_audiences() -> None:
    for audience in (Audience.SINGLE_TENANT, Audience.MULTI_TENANT):
        assert errors("https://*.example.com/cb", audience=audience) == []
        assert warnings("https://*.example.com/cb", audience=audience)


def test_limits_per_audience() -> None:
    assert max_uris(Audience.SINGLE_TENANT) == 256
    assert max_uris(Audience.MULTI_TENANT) == 256
    assert max_uris(Audience.MULTI_TENANT_AND_PERSONAL) == 100
    assert max_uris(Audience.PERSONAL) == 100


@pytest.mark.parametrize(
    ("uri", "stored"),
    [
        ("https://contoso.com", "https://contoso.com/"),
        ("http://localhost:7071", "http://localhost:7071/"),
        ("https://contoso.com/abc", "https://contoso.com/abc"),
        ("https://contoso.com/", "https://contoso.com/"),
        ("https://contoso.com?x=1", "https://contoso.com/?x=1"),
        ("HTTPS://Contoso.com", "HTTPS://Contoso.com/"),
        ("myapp://auth", "myapp://auth"),
        ("https://login.microsoftonline.com/common/oauth2/nativeclient",) * 2,
        ("  https://contoso.com  ", "https://contoso.com/"),
        ("not a uri", "not a uri"),
        ("https://[::1", "https://[::1"),
    ],
)
def test_normalize(uri: str, stored: str) -> None:
    assert normalize(uri) == stored


@given(st.text(max_size=80))
def test_normalize_is_idempotent_and_total(uri: str) -> None:
    once = normalize(uri)
    assert normalize(once) == once


@given(
    st.text(max_size=80), st.sampled_from(["web", "spa", "public_client"]), st.sampled_from(list(Audience))
)
def test_check_never_raises(uri: str, platform: str, audience: Audience) -> None:
    for problem in check_uri(uri, platform, audience):  # type: ignore[arg-type]
        assert problem.severity in ("error", "warning") and "\n" not in problem.message
