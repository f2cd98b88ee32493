"""Targets, credential/Graph error mapping: pure pieces of provisioner.graph."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CredentialUnavailableError
from msgraph.generated.models.o_data_errors.main_error import MainError
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from provisioner.graph.failures import credential_error, graph_error
from provisioner.graph.state import chunked, in_filter, odata_quote
from provisioner.graph.target import target_for_cloud, target_from_emulator


@pytest.mark.parametrize(
    ("cloud", "graph", "login", "scope"),
    [
        ("public", "https://graph.microsoft.com/v1.0", "https://login.microsoftonline.com",
         "https://graph.microsoft.com/.default"),
        ("usgov", "https://graph.microsoft.us/v1.0", "https://login.microsoftonline.us",
         "https://graph.microsoft.us/.default"),
        ("china", "https://microsoftgraph.chinacloudapi.cn/v1.0", "https://login.chinacloudapi.cn",
         "https://microsoftgraph.chinacloudapi.cn/.default"),
    ],
)  # fmt: skip
def test_national_clouds(cloud: str, graph: str, login: str, scope: str) -> None:
    target = target_for_cloud(cloud, "contoso.onmicrosoft.com")
    assert (target.graph_url, target.authority_host, target.graph_scope) == (graph, login, scope)
    assert not target.is_local and target.client_id is None


def test_unknown_cloud() -> None:
    with pytest.raises(ValueError, match="unknown cloud"):
        target_for_cloud("mars", None)


def test_target_from_emulator_is_duck_typed_and_hides_secret() -> None:
    running = SimpleNamespace(
        graph_url="https://localhost:8443/v1.0",
        authority="https://localhost:8443",
        ca_cert_path="/tmp/ca.pem",
        tenant=SimpleNamespace(tenant_id="t1", admin_client_id="c1", admin_client_secret="s3cr3t-value"),
    )
    target = target_from_emulator(running)
    assert target.is_local and target.graph_host == "localhost"
    assert target.graph_scope == "https://graph.microsoft.com/.default"  # emulator issues public-cloud tokens
    assert "s3cr3t-value" not in repr(target)
    assert target.with_tenant("t2").tenant_id == "t2" and target.with_tenant(None) is target


def test_credential_error_names_aadsts_code_and_scrubs_secret() -> None:
    exc = ClientAuthenticationError(
        message="Authentication failed: AADSTS7000215: Invalid client secret provided. Ensure the secret "
        "being sent is the client secret value, not the client secret ID. secret=hunter2\nTrace ID: x"
    )
    err = credential_error(exc, secret="hunter2")
    text = str(err)
    assert text.startswith("credential failed (AADSTS7000215: invalid client secret)")
    assert "hunter2" not in text and "\n" not in text


def test_credential_unavailable_says_what_to_configure() -> None:
    unavailable = CredentialUnavailableError(message="DefaultAzureCredential failed to retrieve a token")
    err = credential_error(unavailable)
    assert "AZURE_CLIENT_ID" in str(err) and "az login" in str(err)


def test_graph_error_is_one_line_with_status_and_code() -> None:
    exc = ODataError()
    exc.response_status_code = 404
    exc.error = MainError(code="Request_ResourceNotFound", message="Resource 'x' does not exist\nor is gone.")
    err = graph_error(exc, "create service principal")
    assert str(err) == (
        "create service principal: Graph 404 Request_ResourceNotFound: "
        "Resource 'x' does not exist or is gone."
    )
    assert (err.status, err.code) == (404, "Request_ResourceNotFound")


def test_filters_quote_and_chunk() -> None:
    assert odata_quote("O'Brien") == "'O''Brien'"
    assert in_filter("appId", ["a", "b"]) == "appId in ('a', 'b')"
    assert [len(c) for c in chunked(list(range(31)))] == [15, 15, 1]
