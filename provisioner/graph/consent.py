"""Admin consent as Graph stores it: the scope format shared by the plan and apply.

Admin consent in Entra is two kinds of objects, both pointing at service
principal object IDs (not appIds):

* delegated permissions: one ``oauth2PermissionGrant`` per (client SP,
  resource SP) with ``consentType: AllPrincipals`` ("admin consent, all
  users"); its ``scope`` is a space-separated list that is updated in place
  with PATCH (Graph replaces the whole string);
* application permissions: one ``appRoleAssignment`` per app role, created
  with ``POST /servicePrincipals/{resource}/appRoleAssignedTo``.

The plan decides *what* to grant (:mod:`provisioner.engine.planner`);
:mod:`provisioner.engine.apply` builds the batched requests that grant and revoke
it, and resolves "already exists" answers of concurrent runs.
"""

from __future__ import annotations

from collections.abc import Iterable


def scope_string(scopes: Iterable[str]) -> str:
    """Graph's scope format: space separated; sorted so the stored value is deterministic."""
    return " ".join(sorted(set(scopes)))
