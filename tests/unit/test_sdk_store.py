"""The plain backing store changes what msgraph-sdk models cost, never what they send.

Each side runs in its own interpreter, because a model class binds its store factory when its
module is first imported: one with :func:`provisioner.graph.sdk_store.install` before any model
import (as ``graph_client`` does), one with kiota's default. Both serialise the same bodies the
tool sends (application create/update, the note cleared by an explicit null, the token version,
service principal, keyCredentials PATCH, a password credential) and parse a Graph answer back;
the JSON must be byte for byte the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, sys
    if sys.argv[1] == "plain":
        from provisioner.graph import sdk_store
        sdk_store.install()
    from kiota_serialization_json.json_parse_node import JsonParseNode
    from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.password_credential import PasswordCredential
    from provisioner.graph.bodies import application_body, service_principal_body
    from provisioner.graph.certificates import new_credential, patch_body
    from provisioner.model.desired import DesiredApp
    from provisioner.model.tenant import ExistingApp

    def text(model):
        writer = JsonSerializationWriter()
        writer.write_object_value(None, model)
        return writer.get_serialized_content().decode()

    graph = "00000003-0000-0000-c000-000000000000"
    K1, K2 = "6f1d2b9e-2c3a-4f55-9b1e-0c6e1d7a2b10", "0b9f6a3e-7d42-4c8e-a1f3-5e2d9c7b4a21"
    want = DesiredApp(
        name="a", display_name="App", sign_in_audience="AzureADMultipleOrgs",
        web_redirect_uris=("https://a.example/cb",), public_client_redirect_uris=("http://localhost",),
        required_resource_access={graph: (("e1fe6dd8-ba31-4d61-89e7-88639da4683d", "Scope"),)},
        requested_access_token_version=2,
    )
    have = ExistingApp(object_id="o", app_id="i", unique_name="a", display_name="Old", notes="old note",
                       web_home_page_url="https://home.example")
    noted = DesiredApp(name="b", display_name="B", sign_in_audience="AzureADMyOrg", notes="kept")
    parsed = JsonParseNode(json.loads(
        '{"id": "o", "appId": "i", "displayName": "X", "keyCredentials": [], "web": {"redirectUris": ["u"]}}'
    )).get_object_value(Application)
    bodies = [
        application_body(want), application_body(want, have), application_body(noted, have),
        service_principal_body("App"), service_principal_body("App", assignment_required=True),
        patch_body([new_credential(K1, "c", b"der")], add=[new_credential(K2, "d", b"re")], drop=[K1]),
        PasswordCredential(display_name="s"), parsed,
    ]
    print(json.dumps({"store": type(bodies[0].backing_store).__name__, "bodies": [text(b) for b in bodies]}))
    """
)


def _run(mode: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_plain_store_serialises_every_body_exactly_as_kiotas_store() -> None:
    plain, kiota = _run("plain"), _run("kiota")
    assert plain["store"] == "PlainBackingStore"
    assert kiota["store"] == "InMemoryBackingStore"
    assert plain["bodies"] == kiota["bodies"]
    cleared = json.loads(plain["bodies"][2])  # type: ignore[index]
    assert cleared["notes"] == "kept"
    assert json.loads(plain["bodies"][1])["notes"] is None  # type: ignore[index]  # the explicit null stays
    assert json.loads(plain["bodies"][0])["api"] == {"requestedAccessTokenVersion": 2}  # type: ignore[index]


def test_install_is_idempotent_and_keeps_the_plain_factory() -> None:
    from kiota_abstractions.store.backing_store_factory_singleton import BackingStoreFactorySingleton

    from provisioner.graph import sdk_store

    singleton = BackingStoreFactorySingleton()
    before = singleton.backing_store_factory
    try:
        sdk_store.install()
        first = singleton.backing_store_factory
        sdk_store.install()
        assert singleton.backing_store_factory is first
        store = first.create_backing_store()
        store.set("displayName", "x")
        assert store.get("displayName") == "x" and store.enumerate_() == [("displayName", "x")]
        assert store.return_only_changed_values is False
    finally:
        singleton.backing_store_factory = before


def test_the_store_is_a_dict_inside_and_an_object_outside() -> None:
    """Fast calls, the old object semantics: truthy when empty, identity equality, no values in repr."""
    from provisioner.graph.sdk_store import PlainBackingStore

    store, other = PlainBackingStore(), PlainBackingStore()
    assert store and store != other and store == store
    store.set("secret_text", "s3cr3t-value")
    other.set("secret_text", "s3cr3t-value")
    assert store.get("secret_text") == "s3cr3t-value" and store.enumerate_() == [
        ("secret_text", "s3cr3t-value")
    ]
    assert store != other and hash(store) != hash(other)
    assert "s3cr3t" not in repr(store) and "s3cr3t" not in str(store)
    store.clear()
    assert store.get("secret_text") is None and bool(store)
