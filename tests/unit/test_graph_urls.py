"""``graph.urls.expand`` gives exactly what std-uritemplate gives, for any values; SDK requests keep their URLs."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from stduritemplate import StdUriTemplate

from provisioner.graph.urls import expand, request_url

#: Shapes msgraph-sdk's request builders use, and the other RFC 6570 operators and modifiers.
TEMPLATES = [
    "{+baseurl}/applications/{application%2Did}/addPassword",
    "{+baseurl}/applications(uniqueName='{uniqueName}')",
    "{+baseurl}/servicePrincipals(appId='{appId}')",
    "{+baseurl}/servicePrincipals{?%24count,%24expand,%24filter,%24orderby,%24search,%24select,%24skip,%24top}",
    "{+baseurl}/servicePrincipals/{servicePrincipal%2Did}/appRoleAssignedTo",
    "{+baseurl}/oauth2PermissionGrants",
    "{#frag}/x{/seg}{;p}{.e}{&q}",
    "{+baseurl}/x{?a*}",
    "{+baseurl}/x/{id:3}",
    "{+baseurl}/qx0xq/{id}",
    "{id}{+id}",
]
NAMES = ["baseurl", "application%2Did", "uniqueName", "appId", "servicePrincipal%2Did", "%24filter",
         "%24select", "%24top", "frag", "seg", "p", "e", "q", "a", "id", "unused"]  # fmt: skip
TEXT = st.text(alphabet=st.sampled_from("aZ09-._~:/?#[]@!$&'()*+,;=% é\"{}"), max_size=12)
PLAIN = st.text(alphabet=st.sampled_from("aZ09-._~"), min_size=1, max_size=12)  # what ids and names are
RESERVED = st.text(alphabet=st.sampled_from("aZ09-._~:/?#[]@!$&'()*+,;="), min_size=1, max_size=12)
VALUE = st.one_of(st.none(), PLAIN, RESERVED, TEXT, st.lists(TEXT, max_size=3), st.integers(), st.booleans())


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(TEMPLATES), st.dictionaries(st.sampled_from(NAMES), VALUE, max_size=6))
def test_expand_is_std_uritemplate(template: str, values: dict[str, Any]) -> None:
    assert expand(template, values) == StdUriTemplate.expand(template, values)


def test_plain_values_are_expanded_from_the_cached_shape(monkeypatch: Any) -> None:
    from provisioner.graph import urls

    template = "{+baseurl}/applications/{application%2Did}/addPassword"
    expand(template, {"baseurl": "https://h/v1.0", "application%2Did": "a"})  # the shape, once
    calls: list[str] = []
    monkeypatch.setattr(urls.StdUriTemplate, "expand", lambda t, v: calls.append(t) or "")
    got = expand(template, {"baseurl": "https://h:1/v1.0", "application%2Did": "5f0c"})
    assert got == "https://h:1/v1.0/applications/5f0c/addPassword" and calls == []
    spaced = expand(template, {"baseurl": "https://h/v1.0", "application%2Did": "a b'é"})  # encoded here
    assert spaced == "https://h/v1.0/applications/a%20b%27%C3%A9/addPassword" and calls == []
    expand(template, {"baseurl": "https://h/v1.0 x", "application%2Did": "a"})  # reserved expansion
    assert calls == [template]


_CLIENT: list[Any] = []


def _client() -> Any:
    if not _CLIENT:
        from kiota_abstractions.authentication import AnonymousAuthenticationProvider
        from msgraph.graph_request_adapter import GraphRequestAdapter
        from msgraph.graph_service_client import GraphServiceClient

        adapter = GraphRequestAdapter(AnonymousAuthenticationProvider())
        adapter.base_url = "https://localhost:8443/v1.0"
        _CLIENT.append(GraphServiceClient(request_adapter=adapter))
    return _CLIENT[0]


@settings(max_examples=10, deadline=None)
@given(st.lists(st.uuids(), min_size=1, max_size=3))
def test_sdk_requests_keep_the_url_the_sdk_gives(ids: list[uuid.UUID]) -> None:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.password_credential import PasswordCredential

    client = _client()
    oid = str(ids[0])
    listing = client.service_principals.to_get_request_information(
        RequestConfiguration(
            query_parameters=client.service_principals.ServicePrincipalsRequestBuilderGetQueryParameters(
                filter=f"appId in ('{oid}', 'x y')", select=["id", "appId"], top=999
            )
        )
    )
    infos = [
        client.applications.by_application_id(oid).add_password.to_post_request_information(
            PasswordCredential(display_name="s")
        ),
        client.applications_with_unique_name(f"app-{oid}").to_get_request_information(),
        client.applications_with_unique_name("name with space").to_get_request_information(),
        client.service_principals_with_app_id(oid).to_get_request_information(),
        client.service_principals.by_service_principal_id(
            oid
        ).app_role_assigned_to.to_get_request_information(),
        listing,
    ]
    for info in infos:
        assert request_url(info) == str(info.url)
