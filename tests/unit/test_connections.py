"""connection_values / masked / merge_previous: what each product (scenarios 1–5) is handed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from provisioner.core.errors import ProvisionerError, SinkError
from provisioner.model.connections import (
    EXCHANGE_ONLINE,
    MintedSecret,
    Resource,
    connection_values,
    iso_utc,
    mask_secret,
    masked,
    merge_previous,
    read_connection_file,
    resolve_resource,
)
from provisioner.model.manifest import App, Audience

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SECRET_VALUE = "Zq8~Qm2.abcdefghijklmnopqrstuvwxyz0123456"
EXPIRES = datetime(2027, 1, 1, tzinfo=UTC)


def make_app(**fields: Any) -> App:
    return App.model_validate({"name": "demo", "display_name": "Demo", **fields})


def minted(name: str = "main", value: str = SECRET_VALUE, key_id: str = "k-1", days: int = 0) -> MintedSecret:
    return MintedSecret(
        name=name, key_id=key_id, value=value, hint=value[:3], expires=EXPIRES + timedelta(days=days)
    )


def values_for(app: App, secrets: list[MintedSecret] | None = None, **kwargs: Any) -> dict[str, Any]:
    return connection_values(app, tenant_id=TENANT, client_id=CLIENT, minted=secrets or [], **kwargs)


# --- URLs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("audience", "segment"),
    [
        (Audience.SINGLE_TENANT, TENANT),
        (Audience.MULTI_TENANT, "organizations"),
        (Audience.MULTI_TENANT_AND_PERSONAL, "common"),
        (Audience.PERSONAL, "consumers"),
    ],
)
def test_urls_follow_the_audience(audience: Audience, segment: str) -> None:
    values = values_for(make_app(audience=audience.value))
    base = "https://login.microsoftonline.com"
    assert values["authorization_url"] == f"{base}/{segment}/oauth2/v2.0/authorize"
    assert values["token_url"] == f"{base}/{segment}/oauth2/v2.0/token"
    # products differ: the tenant-specific pair is always there too
    assert values["tenant_authorization_url"] == f"{base}/{TENANT}/oauth2/v2.0/authorize"
    assert values["tenant_token_url"] == f"{base}/{TENANT}/oauth2/v2.0/token"
    assert values["audience"] == audience.value


def test_custom_authority_and_graph_endpoint() -> None:
    values = values_for(
        make_app(), authority_host="https://localhost:8443/", graph_endpoint="https://localhost:8443/"
    )
    assert values["authority_host"] == "https://localhost:8443"
    assert values["token_url"] == f"https://localhost:8443/{TENANT}/oauth2/v2.0/token"
    assert values["graph_endpoint"] == "https://localhost:8443"


def test_base_keys_and_absent_optional_keys() -> None:
    values = values_for(make_app())
    assert values["app"] == "demo"
    assert values["display_name"] == "Demo"
    assert values["tenant_id"] == TENANT
    assert values["client_id"] == CLIENT
    assert values["graph_endpoint"] == "https://graph.microsoft.com"
    for absent in ("client_secret", "client_secret_id", "secrets", "scopes", "app_scopes", "redirect_uris"):
        assert absent not in values
    json.dumps(values)  # serialisable as is


# --- scopes per scenario ----------------------------------------------------------------------------


def test_scenario1_exchange_connector_delegated_multi_tenant() -> None:
    app = make_app(
        audience="multi-tenant",
        redirect_uris={"web": ["https://platform.example.com/oauth/callback"]},
        permissions={
            "Microsoft Graph": {
                "delegated": [
                    "Calendars.ReadWrite",
                    "Contacts.ReadWrite",
                    "Mail.ReadWrite",
                    "Mail.Send",
                    "offline_access",
                    "User.Read",
                ]
            }
        },
    )
    values = values_for(app, [minted()])
    assert values["scopes"] == (
        "offline_access Calendars.ReadWrite Contacts.ReadWrite Mail.ReadWrite Mail.Send User.Read"
    )
    assert "app_scopes" not in values
    assert values["authorization_url"].endswith("/organizations/oauth2/v2.0/authorize")
    assert values["redirect_uri"] == "https://platform.example.com/oauth/callback"
    assert values["client_secret"] == SECRET_VALUE


def test_scenario2_etl_mail_scopes_oidc_first_then_sorted() -> None:
    delegated = [
        "offline_access", "email", "openid", "profile", "Mail.Read", "Mail.Read.Shared", "Mail.ReadBasic",
        "Mail.ReadBasic.Shared", "Mail.ReadWrite", "Mail.ReadWrite.Shared", "Mail.Send", "Mail.Send.Shared",
        "User.Read", "User.ReadBasic.All",
    ]  # fmt: skip
    app = make_app(permissions={"Microsoft Graph": {"delegated": list(reversed(delegated))}})
    assert values_for(app)["scopes"] == (
        "openid profile email offline_access Mail.Read Mail.Read.Shared Mail.ReadBasic Mail.ReadBasic.Shared "
        "Mail.ReadWrite Mail.ReadWrite.Shared Mail.Send Mail.Send.Shared User.Read User.ReadBasic.All"
    )


def test_scope_string_example_from_the_brief() -> None:
    app = make_app(
        permissions={"Microsoft Graph": {"delegated": ["User.Read", "Mail.Send", "offline_access"]}}
    )
    assert values_for(app)["scopes"] == "offline_access Mail.Send User.Read"


def test_scenario3_logistics_application_permissions_secret_id_and_mailbox() -> None:
    app = make_app(
        audience="multi-tenant-and-personal",
        redirect_uris={"web": ["https://localhost", "http://localhost"]},
        implicit_grant={"access_tokens": True, "id_tokens": True},
        allow_public_client_flows=True,
        permissions={"Microsoft Graph": {"application": ["Mail.Read", "Mail.Send"]}},
        extra_values={"mailbox": "ops@example.com"},
    )
    values = values_for(app, [minted(key_id="0f0f0f0f-1111-2222-3333-444444444444")])
    assert "scopes" not in values
    assert values["app_scopes"] == "https://graph.microsoft.com/.default"
    assert values["client_secret"] == SECRET_VALUE
    assert values["client_secret_id"] == "0f0f0f0f-1111-2222-3333-444444444444"
    assert values["client_secret_expires"] == "2027-01-01T00:00:00Z"
    assert values["mailbox"] == "ops@example.com"
    assert values["redirect_uris"] == ["https://localhost", "http://localhost"]
    assert values["authorization_url"].endswith("/common/oauth2/v2.0/authorize")


def test_scenario4_pkce_public_client() -> None:
    app = make_app(
        redirect_uris={"public_client": ["http://localhost:9999/Callback"]},
        allow_public_client_flows=True,
        permissions={
            "Microsoft Graph": {
                "delegated": [
                    "offline_access",
                    "openid",
                    "profile",
                    "User.Read",
                    "Mail.ReadWrite",
                    "Mail.Send",
                ]
            }
        },
    )
    values = values_for(app)
    assert values["scopes"] == "openid profile offline_access Mail.ReadWrite Mail.Send User.Read"
    assert values["redirect_uri"] == "http://localhost:9999/Callback"
    assert "client_secret" not in values  # optional for a public client
    assert values["tenant_id"] == TENANT and values["client_id"] == CLIENT


@pytest.mark.parametrize("key", ["Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"])
def test_scenario5_ews_exchange_prefixes(key: str) -> None:
    app = make_app(
        redirect_uris={"web": ["https://localhost/ews-callback"]},
        permissions={key: {"delegated": ["EWS.AccessAsUser.All"], "application": ["full_access_as_app"]}},
    )
    values = values_for(app, [minted()])
    assert values["scopes"] == "https://outlook.office.com/EWS.AccessAsUser.All"
    assert values["app_scopes"] == "https://outlook.office365.com/.default"
    assert values["redirect_uri"] == "https://localhost/ews-callback"


def test_graph_and_exchange_together_oidc_unprefixed_once() -> None:
    app = make_app(
        permissions={
            "Microsoft Graph": {"delegated": ["User.Read", "offline_access"], "application": ["Mail.Read"]},
            "Office 365 Exchange Online": {
                "delegated": ["IMAP.AccessAsUser.All"],
                "application": ["IMAP.AccessAsApp"],
            },
        }
    )
    values = values_for(app)
    assert values["scopes"] == "offline_access User.Read https://outlook.office.com/IMAP.AccessAsUser.All"
    assert (
        values["app_scopes"] == "https://graph.microsoft.com/.default https://outlook.office365.com/.default"
    )


def test_graph_by_app_id_and_case_insensitive_names() -> None:
    assert resolve_resource("00000003-0000-0000-C000-000000000000").display_name == "Microsoft Graph"
    assert resolve_resource("office 365 exchange online") is EXCHANGE_ONLINE


def test_unknown_resource_is_an_actionable_error_and_extra_resources_resolve() -> None:
    app = make_app(permissions={"Contoso API": {"delegated": ["Orders.Read"], "application": ["Orders.All"]}})
    with pytest.raises(ProvisionerError, match="Contoso API"):
        values_for(app)
    contoso = Resource(
        "99999999-0000-0000-0000-000000000000", "Contoso API", "api://contoso", "api://contoso"
    )
    values = values_for(app, resources=[contoso])
    assert values["scopes"] == "api://contoso/Orders.Read"
    assert values["app_scopes"] == "api://contoso/.default"


def test_redirect_uris_all_platforms_deduplicated() -> None:
    app = make_app(
        redirect_uris={
            "web": ["https://a", "https://b"],
            "spa": ["https://c"],
            "public_client": ["https://a"],
        }
    )
    assert values_for(app)["redirect_uris"] == ["https://a", "https://b", "https://c"]


def test_extra_values_cannot_shadow_computed_keys() -> None:
    with pytest.raises(ProvisionerError, match="'scopes'"):
        values_for(make_app(extra_values={"scopes": "x"}))
    with pytest.raises(ProvisionerError, match="'client_secret'"):
        values_for(make_app(extra_values={"client_secret": "x"}))


# --- secrets ------------------------------------------------------------------------------------------


def test_newest_minted_secret_is_the_client_secret() -> None:
    old = minted("a", value="A" * 40, key_id="k-a", days=0)
    new = minted("b", value="B" * 40, key_id="k-b", days=30)
    values = values_for(make_app(), [new, old])
    assert values["client_secret"] == "B" * 40
    assert values["client_secret_id"] == "k-b"
    assert values["secrets"] == [
        {"name": "b", "key_id": "k-b", "hint": "BBB", "expires": "2027-01-31T00:00:00Z", "value": "B" * 40},
        {"name": "a", "key_id": "k-a", "hint": "AAA", "expires": "2027-01-01T00:00:00Z", "value": "A" * 40},
    ]


def test_minted_secret_repr_and_str_never_show_the_value() -> None:
    secret = minted()
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert SECRET_VALUE not in text
        assert "k-1" in text


def test_iso_utc_treats_naive_as_utc_and_converts_offsets() -> None:
    assert iso_utc(datetime(2026, 5, 1, 12, 0, 0)) == "2026-05-01T12:00:00Z"
    assert iso_utc(datetime.fromisoformat("2026-05-01T14:00:00+02:00")) == "2026-05-01T12:00:00Z"


# --- masking ------------------------------------------------------------------------------------------


def test_masked_hides_every_secret_value_but_keeps_the_hint() -> None:
    app = make_app(permissions={"Microsoft Graph": {"application": ["Mail.Read"]}})
    values = values_for(app, [minted()])
    values["refresh_token"] = "0.ARrefresh-token-value-that-is-long"
    shown = masked(values)
    text = json.dumps(shown)
    assert SECRET_VALUE not in text
    assert "refresh-token-value" not in text
    assert shown["client_secret"] == "Zq8****"
    assert shown["secrets"][0]["value"] == "Zq8****"
    assert shown["secrets"][0]["hint"] == "Zq8"
    assert shown["client_id"] == CLIENT and shown["client_secret_id"] == "k-1"
    assert values["client_secret"] == SECRET_VALUE  # the input is not modified


def test_short_values_show_no_prefix() -> None:
    assert mask_secret("abc") == "****"
    assert mask_secret("abcdefghijkl") == "****"
    assert mask_secret("abcdefghijklmnop") == "abc****"


# --- carrying the secret forward ------------------------------------------------------------------


def _previous() -> dict[str, Any]:
    return values_for(make_app(), [minted("main", key_id="k-old")])


def test_merge_keeps_previous_secret_when_nothing_was_minted() -> None:
    merged = merge_previous(values_for(make_app()), _previous())
    assert merged["client_secret"] == SECRET_VALUE
    assert merged["client_secret_id"] == "k-old"
    assert merged["client_secret_expires"] == "2027-01-01T00:00:00Z"
    assert [entry["key_id"] for entry in merged["secrets"]] == ["k-old"]


def test_merge_prefers_secrets_minted_in_this_run() -> None:
    new = values_for(make_app(), [minted("main", value="N" * 40, key_id="k-new")])
    merged = merge_previous(new, _previous())
    assert merged["client_secret"] == "N" * 40
    assert [entry["key_id"] for entry in merged["secrets"]] == ["k-new"]


def test_merge_keeps_other_named_secrets() -> None:
    new = values_for(make_app(), [minted("second", value="N" * 40, key_id="k-2")])
    merged = merge_previous(new, _previous())
    assert merged["client_secret_id"] == "k-2"
    assert [(e["name"], e["key_id"]) for e in merged["secrets"]] == [("main", "k-old"), ("second", "k-2")]


def test_merge_ignores_a_previous_file_of_another_app_or_tenant() -> None:
    other_client = connection_values(make_app(), tenant_id=TENANT, client_id="other", minted=[minted()])
    assert "client_secret" not in merge_previous(values_for(make_app()), other_client)
    other_tenant = connection_values(make_app(), tenant_id="t2", client_id=CLIENT, minted=[minted()])
    assert "client_secret" not in merge_previous(values_for(make_app()), other_tenant)
    assert merge_previous(values_for(make_app()), None) == values_for(make_app())


def test_merge_drops_secrets_entra_no_longer_lists() -> None:
    merged = merge_previous(values_for(make_app()), _previous(), live_key_ids={"something-else"})
    assert "client_secret" not in merged
    assert "secrets" not in merged
    kept = merge_previous(values_for(make_app()), _previous(), live_key_ids={"k-old"})
    assert kept["client_secret_id"] == "k-old"


def test_merge_takes_new_non_secret_values() -> None:
    previous = _previous()
    previous["scopes"] = "stale"
    previous["mailbox"] = "stale@example.com"
    merged = merge_previous(values_for(make_app()), previous)
    assert "scopes" not in merged and "mailbox" not in merged


# --- reading the previous file --------------------------------------------------------------------


def test_read_connection_file(tmp_path: Path) -> None:
    assert read_connection_file(tmp_path / "missing.json") is None
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"client_id": CLIENT}))
    assert read_connection_file(good) == {"client_id": CLIENT}


def test_read_connection_file_errors_never_quote_content(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"client_secret": "' + SECRET_VALUE + '",,}')
    with pytest.raises(SinkError) as caught:
        read_connection_file(broken)
    assert SECRET_VALUE not in str(caught.value)
    assert str(broken) in str(caught.value)
    assert "\n" not in str(caught.value)
    listing = tmp_path / "list.json"
    listing.write_text("[]")
    with pytest.raises(SinkError, match="JSON object"):
        read_connection_file(listing)
