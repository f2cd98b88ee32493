"""Multi-tenant fan-out: ``plan``/``apply --tenants FILE`` converge the same manifests in several tenants.

The tenants file sits next to the manifests and names each target tenant with
its own credential::

    tenants:
      - name: contoso                  # label: output section, connection folder
        tenant_id: 0f0e...             # GUID or verified domain
        client_id: 5a1b...             # app the run signs in as ...
        client_secret_env: CONTOSO_PROVISIONER_SECRET   # ... with the secret in this env variable
      - name: fabrikam-gov
        tenant_id: fabrikam.onmicrosoft.us
        cloud: usgov
        client_id: 77aa...
        certificate: certs/fabrikam.pem                 # PEM with private key, relative to this file
      - name: sandbox
        tenant_id: 3c2d...             # no credential: DefaultAzureCredential (az login, OIDC, ...)
      - name: local
        tenant_id: 11111111-1111-1111-1111-111111111111
        emulator: true                 # the emulator: --emulator's embedded one, else PROVISIONER_GRAPH_URL

A top-level list (without ``tenants:``) is accepted too. Secrets never appear in
the file, only the names of the environment variables holding them.

The runner (:mod:`provisioner.engine.runner`) runs each tenant as its own asyncio
task with its own Graph client (the SDK is async, so one event loop drives all of
them concurrently). A tenant's failure -
a wrong secret, a Graph error, a manifest permission its tenant does not have -
is recorded and reported; the others carry on. ``apply`` plans every tenant
first, shows all plans, asks once, then applies everywhere.

Connection values go to ``<state_dir>/tenants/<cloud>/<tenant id>/connections/<app>.json``
(:mod:`provisioner.core.layout`, selected per tenant task). The
manifest's own sinks (files, Key Vault, GitHub outputs) name one destination,
which N tenants would overwrite in turn: they are skipped in a fan-out run, with
a warning.

With ``--emulator`` every entry is served by one embedded emulator hosting all
tenants (created on first use); an ``emulator: true`` entry with a
``client_id``/``client_secret_env`` signs in with those, every other entry as its
emulated tenant's bootstrap admin - so a production tenants file can be
rehearsed locally.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from provisioner.core.errors import CredentialError, Location, ManifestError, ManifestErrors, ProvisionerError
from provisioner.engine.targeting import (
    emulator_endpoint_from_env,
    emulator_tenant_target,
    open_emulator,
)
from provisioner.graph.target import Target, target_for_cloud
from provisioner.model.manifest import NAME_PATTERN


class TenantEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, description="Label; also the connection folder name.")
    tenant_id: str = Field(min_length=1, description="Tenant ID (GUID) or verified domain.")
    cloud: Literal["public", "usgov", "china"] | None = None
    client_id: str | None = None
    client_secret_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Environment variable with the secret."
    )
    certificate: str | None = Field(default=None, description="PEM file (certificate + private key).")
    emulator: bool = False

    @model_validator(mode="after")
    def _one_credential(self) -> TenantEntry:
        if self.client_secret_env and self.certificate:
            raise ValueError("give client_secret_env or certificate, not both")
        if (self.client_secret_env or self.certificate) and not self.client_id:
            raise ValueError("client_secret_env and certificate need client_id")
        if self.client_id and not (self.client_secret_env or self.certificate):
            raise ValueError("client_id needs client_secret_env or certificate")
        return self


@dataclass(frozen=True)
class TenantsFile:
    path: Path
    entries: list[TenantEntry]


# ------------------------------------------------------------------------------------------ loading


def _mark(node: Any) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _node_at(node: Any, loc: Sequence[Any]) -> Any:
    """The YAML node for a pydantic error location (nearest existing ancestor)."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
            if child is None:
                return node
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def load_tenants(path: str | os.PathLike[str]) -> TenantsFile:
    """Parse and validate a tenants file; every problem reported at file:line:column."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProvisionerError(f"cannot read tenants file {file}: {exc.strerror or exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Location(str(file), mark.line + 1, mark.column + 1) if mark else Location(str(file))
        raise ManifestError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", where) from None
    items_node = root
    if isinstance(data, dict) and set(data) == {"tenants"}:
        data = data["tenants"]
        items_node = _node_at(root, ["tenants"])
    if not isinstance(data, list) or not data:
        raise ManifestError(
            "expected a non-empty list of tenants (or 'tenants:' with one)", Location(str(file), 1)
        )
    errors: list[ManifestError] = []
    entries: list[TenantEntry] = []
    for index, raw in enumerate(data):
        item_node = _node_at(items_node, [index])
        try:
            entries.append(TenantEntry.model_validate(raw))
        except ValidationError as exc:
            for err in exc.errors():
                loc = [p for p in err["loc"] if p != "__root__"]
                line, column = _mark(_node_at(item_node, loc))
                label = ".".join(str(p) for p in (f"tenants[{index}]", *loc))
                errors.append(ManifestError(f"{label}: {err['msg']}", Location(str(file), line, column)))
    seen: set[str] = set()
    for index, raw in enumerate(data):
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and name in seen:
            line, column = _mark(_node_at(items_node, [index, "name"]))
            errors.append(
                ManifestError(
                    f"tenants[{index}].name: duplicate tenant name {name!r}",
                    Location(str(file), line, column),
                )
            )
        if isinstance(name, str):
            seen.add(name)
    if errors:
        raise ManifestErrors(errors)
    return TenantsFile(path=file, entries=entries)


# ------------------------------------------------------------------------------------------ targets


def entry_target(entry: TenantEntry, *, tenants_dir: Path, cloud: str, running: Any | None) -> Target:
    """The Target of one entry; raises CredentialError (for this tenant only) when its secret is missing."""
    if running is not None and not entry.emulator:
        # Rehearsing a real tenants file on the embedded emulator: its credentials mean nothing there.
        return emulator_tenant_target(running, entry.tenant_id)  # type: ignore[return-value]
    secret: str | None = None
    if entry.client_secret_env:
        secret = os.environ.get(entry.client_secret_env)
        if not secret:
            raise CredentialError(
                f"environment variable {entry.client_secret_env} (client_secret_env) is not set"
            )
    certificate = str((tenants_dir / entry.certificate).resolve()) if entry.certificate else None
    if running is not None:
        target: Target = emulator_tenant_target(running, entry.tenant_id)  # type: ignore[assignment]
        if entry.client_id:
            target.client_id, target.client_secret, target.certificate_path = (
                entry.client_id,
                secret,
                certificate,
            )
        return target
    if entry.emulator:
        endpoint = emulator_endpoint_from_env()
        if endpoint is None:
            raise ProvisionerError(
                "emulator: true needs --emulator or a running emulator (PROVISIONER_GRAPH_URL, see "
                "`provisioner emulator serve`)"
            )
        return Target(
            tenant_id=entry.tenant_id,
            graph_url=str(endpoint["graph_url"]),
            authority_host=str(endpoint["authority_host"]),
            ca_cert_path=endpoint["ca_cert_path"],
            client_id=entry.client_id,
            client_secret=secret,
            certificate_path=certificate,
        )
    target = target_for_cloud(entry.cloud or cloud, entry.tenant_id)
    target.client_id, target.client_secret, target.certificate_path = entry.client_id, secret, certificate
    return target


@contextmanager
def open_targets(
    tenants: TenantsFile, *, emulator: bool, cloud: str, state_dir: Path
) -> Iterator[dict[str, Target | ProvisionerError]]:
    """Target (or the error that prevents one) per tenant name; starts the embedded emulator if asked."""

    with ExitStack() as stack:
        running = stack.enter_context(open_emulator(state_dir)) if emulator else None
        out: dict[str, Target | ProvisionerError] = {}
        for entry in tenants.entries:
            try:
                out[entry.name] = entry_target(
                    entry, tenants_dir=tenants.path.parent, cloud=cloud, running=running
                )
            except ProvisionerError as exc:
                out[entry.name] = exc
        yield out
