"""The emulator's OData query handling: $filter grammar and Graph's directory query rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.emulator.graph import odata
from provisioner.emulator.graph.errors import GraphApiError

APPS = [
    {
        "id": "1",
        "appId": "00000003-0000-0000-c000-000000000000",
        "displayName": "Microsoft Graph",
        "tags": ["first-party", "api"],
        "servicePrincipalNames": ["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"],
        "signInAudience": "AzureADMultipleOrgs",
        "accountEnabled": True,
        "notes": None,
        "createdDateTime": "2026-01-02T00:00:00Z",
        "requiredResourceAccess": [
            {"resourceAppId": "abc", "resourceAccess": [{"id": "r1", "type": "Role"}]}
        ],
    },
    {
        "id": "2",
        "appId": "7c1b3a44-52a1-4a7b-9f3e-2b7c0c7e0c11",
        "displayName": "mail-connector (prod)",
        "tags": ["provisioner"],
        "servicePrincipalNames": [],
        "signInAudience": "AzureADMyOrg",
        "accountEnabled": False,
        "notes": "it's managed",
        "createdDateTime": "2026-03-01T00:00:00Z",
        "requiredResourceAccess": [],
    },
]


def ids(text: str) -> list[str]:
    node = odata.parse_filter(text)
    return [app["id"] for app in APPS if odata.matches(node, app)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("appId eq '00000003-0000-0000-c000-000000000000'", ["1"]),
        ("appId eq 00000003-0000-0000-C000-000000000000", ["1"]),
        ("displayName eq 'MICROSOFT GRAPH'", ["1"]),
        ("displayName ne 'Microsoft Graph'", ["2"]),
        ("startswith(displayName,'mail')", ["2"]),
        ("startsWith(displayName, 'Mail')", ["2"]),
        ("endswith(displayName,'(prod)')", ["2"]),
        ("appId in ('x', '7c1b3a44-52a1-4a7b-9f3e-2b7c0c7e0c11')", ["2"]),
        ("tags/any(t:t eq 'provisioner')", ["2"]),
        ("tags/any(t: t eq 'api') or displayName eq 'nope'", ["1"]),
        ("servicePrincipalNames/any(x:startswith(x,'https://graph'))", ["1"]),
        ("requiredResourceAccess/any(r:r/resourceAccess/any(a:a/type eq 'Role'))", ["1"]),
        ("tags/any()", ["1", "2"]),
        ("tags/all(t:t ne 'api')", ["2"]),
        ("accountEnabled eq true", ["1"]),
        ("accountEnabled eq false and signInAudience eq 'AzureADMyOrg'", ["2"]),
        ("notes eq null", ["1"]),
        ("notes eq 'it''s managed'", ["2"]),
        ("not (displayName eq 'Microsoft Graph')", ["2"]),
        ("not startswith(displayName,'Micro')", ["2"]),
        ("createdDateTime ge 2026-02-01T00:00:00Z", ["2"]),
        ("createdDateTime lt 2026-02-01T00:00:00Z", ["1"]),
        ("(displayName eq 'x' or id eq '1') and accountEnabled eq true", ["1"]),
        ("contains(displayName, 'connector')", ["2"]),
    ],
)
def test_filter_semantics(text: str, expected: list[str]) -> None:
    assert ids(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", r"The \$filter expression is empty"),
        ("appId eq", "unexpected end of filter 'appId eq'"),
        ("appId eq 'unterminated", "Syntax error at position 8"),
        ("startswith(displayName)", "Function 'startswith' takes two arguments"),
        ("tags/any(t t eq 'x')", "expected ':' but found 't'"),
        ("a eq 'b' )", r"Syntax error at '\)'"),
    ],
)
def test_filter_syntax_errors(text: str, why: str) -> None:
    with pytest.raises(odata.FilterSyntaxError, match=why):
        odata.parse_filter(text)


def test_referenced_properties_excludes_lambda_variables() -> None:
    node = odata.parse_filter("tags/any(t:t eq 'x') and appId eq 'y'")
    assert odata.referenced_properties(node) == {"tags", "appId"}


@pytest.mark.parametrize(
    ("text", "operator"),
    [("id ne '1'", "ne"), ("not (id eq '1')", "not"), ("endswith(displayName,'x')", "endsWith")],
)
def test_advanced_operators_need_consistency_level_and_count(text: str, operator: str) -> None:
    with pytest.raises(GraphApiError) as caught:
        odata.parse_query({"$filter": text}, {})
    assert caught.value.status == 400
    assert caught.value.code == "Request_UnsupportedQuery"
    assert f"Operator '{operator}'" in caught.value.message
    # Only the header, or only $count, is not enough either.
    with pytest.raises(GraphApiError, match=f"Operator '{operator}' is not supported"):
        odata.parse_query({"$filter": text}, {"consistencylevel": "eventual"})
    with pytest.raises(GraphApiError, match=f"Operator '{operator}' is not supported"):
        odata.parse_query({"$filter": text, "$count": "true"}, {})
    query = odata.parse_query({"$filter": text, "$count": "true"}, {"consistencylevel": "eventual"})
    assert query.count and query.filter is not None


def test_in_and_eq_work_without_advanced_headers() -> None:
    query = odata.parse_query({"$filter": "appId in ('a','b') and displayName eq 'x'"}, {})
    assert query.filter is not None and not query.count


def test_count_without_header_is_ignored() -> None:
    assert odata.parse_query({"$count": "true"}, {}).count is False
    assert odata.parse_query({"$count": "true"}, {"consistencylevel": "eventual"}).count is True


@pytest.mark.parametrize("top", ["0", "1000", "-1"])
def test_top_out_of_range(top: str) -> None:
    with pytest.raises(GraphApiError) as caught:
        odata.parse_query({"$top": top}, {})
    assert caught.value.message.startswith(f"Invalid page size specified: '{top}'. Must be between 1 and 999")


def test_search_needs_consistency_level() -> None:
    with pytest.raises(GraphApiError) as caught:
        odata.parse_query({"$search": '"displayName:mail"'}, {})
    assert caught.value.code == "Request_UnsupportedQuery"
    query = odata.parse_query({"$search": '"displayName:conn"'}, {"consistencylevel": "eventual"})
    page = odata.apply(query, APPS, default_top=100)
    assert [a["id"] for a in page.items] == ["2"]


def test_unsupported_option_is_rejected() -> None:
    with pytest.raises(GraphApiError, match=r"Query option '\$expand' is not supported"):
        odata.parse_query({"$expand": "owners"}, {})


def test_orderby_with_filter_is_an_advanced_query() -> None:
    with pytest.raises(GraphApiError, match="Sorting not supported for current query"):
        odata.parse_query({"$filter": "id eq '1'", "$orderby": "displayName"}, {})
    for clause, expected in (("displayName desc", ["1", "2"]), ("displayName", ["2", "1"])):
        page = odata.apply(odata.parse_query({"$orderby": clause}, {}), APPS, default_top=100)
        assert [a["id"] for a in page.items] == expected


def test_paging_with_skiptoken_round_trips() -> None:
    items = [{"id": str(i)} for i in range(7)]
    seen: list[str] = []
    params: dict[str, str] = {"$top": "3", "$select": "id"}
    while True:
        query = odata.parse_query(params, {})
        page = odata.apply(query, items, default_top=100)
        seen += [i["id"] for i in page.items]
        if page.next_offset is None:
            break
        link = odata.next_link(
            "https://localhost:1/v1.0", "/applications", query.raw, offset=page.next_offset
        )
        assert link.startswith("https://localhost:1/v1.0/applications?")
        assert "$top=3" in link and "$select=id" in link
        token = link.split("$skiptoken=")[1]
        params = {"$top": "3", "$select": "id", "$skiptoken": token}
    assert seen == [str(i) for i in range(7)]


def test_bad_skiptoken() -> None:
    with pytest.raises(GraphApiError, match="page token value has expired or is invalid"):
        odata.parse_query({"$skiptoken": "not-a-token"}, {})


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_string_literals_round_trip(value: str) -> None:
    literal = "'" + value.replace("'", "''") + "'"
    node = odata.parse_filter(f"displayName eq {literal}")
    assert odata.matches(node, {"displayName": value})


@given(st.integers(min_value=0, max_value=10_000))
def test_skiptoken_round_trip(offset: int) -> None:
    assert odata.decode_skiptoken(odata.encode_skiptoken(offset)) == offset
