"""Scope strings split by resource.

The token endpoint issues an access token for one resource per request (AADSTS28000
otherwise), while the authorize request may ask consent for several. Connection
files list scopes as the product takes them: OIDC names first, then Graph's bare
names and other resources' URI-qualified ones (``https://outlook.office.com/EWS.AccessAsUser.All``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provisioner.model.connections import MICROSOFT_GRAPH, OIDC_SCOPES

GRAPH_KEY = MICROSOFT_GRAPH.identifier_uri


@dataclass
class ScopeGroups:
    oidc: list[str] = field(default_factory=list)
    # (resource identifier, scopes as written) in order of first appearance
    resources: list[tuple[str, list[str]]] = field(default_factory=list)

    def for_resource(self, index: int = 0) -> str:
        """The scope string for one token request: OIDC names plus one resource's scopes."""
        items = list(self.oidc)
        if self.resources:
            items += self.resources[index][1]
        return " ".join(items)


def resource_of(scope: str) -> str:
    """``https://outlook.office.com/X`` -> ``https://outlook.office.com``; a bare name is Graph's."""
    if "://" not in scope:
        return GRAPH_KEY
    head, _, _name = scope.rpartition("/")
    return head.lower()


def group_scopes(scope: str) -> ScopeGroups:
    groups = ScopeGroups()
    by_resource: dict[str, list[str]] = {}
    for item in scope.split():
        if item.lower() in OIDC_SCOPES:
            if item.lower() not in groups.oidc:
                groups.oidc.append(item.lower())
            continue
        key = resource_of(item)
        if key not in by_resource:
            by_resource[key] = []
            groups.resources.append((key, by_resource[key]))
        if item not in by_resource[key]:
            by_resource[key].append(item)
    return groups
