"""``$expand`` parsing: one level, nested ``$select`` only, only where the endpoint offers it."""

from __future__ import annotations

import pytest

from provisioner.emulator.graph.errors import GraphApiError
from provisioner.emulator.graph.odata import parse_query

APP = "microsoft.graph.application"


def test_expand_with_nested_select_and_several_targets() -> None:
    query = parse_query(
        {"$expand": "Owners($select=id,displayName),appRoleAssignments"},
        {},
        expandable=frozenset({"owners", "appRoleAssignments"}),
        type_name=APP,
    )
    assert query.expand == [("owners", ["id", "displayName"]), ("appRoleAssignments", None)]


@pytest.mark.parametrize(
    ("value", "expandable"),
    [
        ("owners", frozenset()),  # endpoint offers no $expand at all
        ("manager", frozenset({"owners"})),  # unknown navigation property
        ("owners($filter=id eq 'x')", frozenset({"owners"})),  # only $select nests
        ("owners(", frozenset({"owners"})),
    ],
)
def test_expand_rejections_are_400(value: str, expandable: frozenset[str]) -> None:
    with pytest.raises(GraphApiError) as raised:
        parse_query({"$expand": value}, {}, expandable=expandable, type_name=APP)
    assert raised.value.status == 400
