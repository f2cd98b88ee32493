"""Which secrets (keyIds) the sinks of an app hold right now — the tool's only view of "in use".

Graph shows a secret's value once, so "does anybody have this secret?" is
answered by the sinks: JSON files (the default connection file included) list
the current ``client_secret_id`` and one entry per declared secret in
``secrets``; dotenv files and GitHub Actions secrets hold one keyId
(:func:`provisioner.sinks.held_key_id`); Key Vault the client secret's and the generated
certificate's (their ``keyId`` tags); GitHub outputs last one job and hold nothing. Values are never read into the result, only keyIds.

A sink that cannot be read is recorded with its error: the policy then removes
nothing from that app (the unreadable sink might hold the secret). A GitHub
Actions secret whose provenance cannot be established (no keyId record, or the
secret was written since the record) is such an error — "unknown", never "not held".
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from provisioner.core.errors import ProvisionerError
from provisioner.model.connections import SECRET_KEYS_BY_OWNER
from provisioner.model.manifest import App, GithubSink, JsonSink, KeyVaultSink
from provisioner.sinks.journal import Journal, load_journal

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class SinkHolding:
    sink: str  # human description (type and location), as in delivery receipts
    key_ids: frozenset[str]  # lower-case keyIds whose value the sink holds
    remembers: bool = True  # False: the sink keeps nothing between runs (GitHub outputs)
    error: str | None = None


@dataclass(frozen=True)
class ProvidedCertificate:
    """A manifest certificate given by ``file``: where it is and its thumbprint (None: unreadable)."""

    path: str
    thumbprint: str | None
    error: str | None = None


@dataclass(frozen=True)
class AppHoldings:
    app: str
    sinks: tuple[SinkHolding, ...]
    #: keyIds this state dir ever delivered for the app (the delivery journal); None: no journal
    #: entry, so an unheld secret older than the held one cannot be told from a predecessor.
    delivered: frozenset[str] | None = None
    #: Graph times at which runs of this state dir asked Entra for a new secret of the app.
    mint_intents: tuple[datetime, ...] = ()
    #: Certificates the user provides by file (certificate name -> file and thumbprint): the user holds
    #: the key of exactly the Entra certificate with that thumbprint.
    provided: Mapping[str, ProvidedCertificate] = field(default_factory=dict)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(k for s in self.sinks for k in s.key_ids)

    @property
    def certain(self) -> bool:
        """Every sink was read; only then may anything be removed from Entra."""
        return all(s.error is None for s in self.sinks)

    def holders(self, key_id: str) -> list[str]:
        wanted = key_id.lower()
        return [s.sink for s in self.sinks if wanted in s.key_ids]

    def pairs(self) -> list[tuple[str, frozenset[str]]]:
        return [(s.sink, s.key_ids) for s in self.sinks]


def json_key_ids(values: Mapping[str, Any] | None) -> frozenset[str]:
    """keyIds whose *value* a connection-values dict carries: ``client_secret_id`` and ``secrets[]``, and
    the service principal's ``sp_client_secret_id`` and ``sp_secrets[]`` (keyIds are unique across both)."""
    if not values:
        return frozenset()
    found: set[str] = set()
    for keys in SECRET_KEYS_BY_OWNER.values():
        key_id = values.get(keys.key_id)
        if values.get(keys.value) and isinstance(key_id, str):
            found.add(key_id.lower())
        for entry in values.get(keys.entries) or []:
            if isinstance(entry, Mapping) and entry.get("value") and isinstance(entry.get("key_id"), str):
                found.add(str(entry["key_id"]).lower())
    return frozenset(found) | certificate_key_ids(values)


def certificate_key_ids(values: Mapping[str, Any] | None, *, exists: Any = None) -> frozenset[str]:
    """keyIds of the certificates whose private key a connection-values dict points to (``certificates[]``).

    A generated certificate counts when its entry names a ``private_key_path`` (and, with ``exists``
    given, that file is there); a provided one (``provided: true``) always: its key is the user's.
    """
    if not values:
        return frozenset()
    found: set[str] = set()
    for entry in values.get("certificates") or []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("key_id"), str):
            continue
        path = entry.get("private_key_path")
        if entry.get("provided") or (isinstance(path, str) and (exists is None or exists(path))):
            found.add(str(entry["key_id"]).lower())
    return frozenset(found)


def provided_certificates(app: App, base_dir: PathLike) -> dict[str, ProvidedCertificate]:
    """Read every ``file:`` certificate of ``app`` (thumbprint only; the file's bytes are not kept)."""
    out: dict[str, ProvidedCertificate] = {}
    if not any(cert.file is not None for cert in app.certificates or []):
        return out  # and no cryptography import for the apps without a certificate file
    from provisioner.model.sink_rules import resolve_path
    from provisioner.model.x509 import CertificateFileError, load_public

    for cert in app.certificates or []:
        if cert.file is None:
            continue
        path = resolve_path(cert.file, base_dir)
        try:
            out[cert.name] = ProvidedCertificate(str(path), load_public(path).thumbprint)
        except CertificateFileError as exc:
            out[cert.name] = ProvidedCertificate(str(path), None, str(exc))
    return out


def read_holdings(
    app: App,
    base_dir: PathLike,
    *,
    state_dir: PathLike | None = None,
    credential: Any | None = None,
    journal: Journal | None = None,
) -> AppHoldings:
    """Ask every sink of ``app`` (default connection file first) which keyIds it holds."""
    from provisioner.sinks import all_sinks, describe, held_key_id, json_sink, keyvault_sink

    found: list[SinkHolding] = []
    for sink in all_sinks(app, base_dir, state_dir):
        where = describe(sink, app, base_dir=base_dir)
        try:
            if isinstance(sink, GithubSink):
                found.append(SinkHolding(where, frozenset(), remembers=False))
            elif isinstance(sink, JsonSink):
                values = json_sink.read_back(sink, app, base_dir=base_dir)
                # a certificate whose key file is gone is not held (its key is lost)
                held = (json_key_ids(values) - certificate_key_ids(values)) | certificate_key_ids(
                    values, exists=lambda p: Path(p).is_file()
                )
                found.append(SinkHolding(where, held))
            elif isinstance(sink, KeyVaultSink):  # the client secret's and the certificate's keyId tags
                found.append(SinkHolding(where, keyvault_sink.held_key_ids(sink, app, credential=credential)))
            else:  # dotenv, GitHub secret, template: SinkError when what it holds is unknown
                key_id = held_key_id(sink, app, base_dir=base_dir, credential=credential, state_dir=state_dir)
                found.append(SinkHolding(where, frozenset({key_id.lower()} if key_id else ())))
        except ProvisionerError as exc:
            found.append(SinkHolding(where, frozenset(), error=str(exc)))
    if journal is None:
        journal = load_journal(Path(state_dir) if state_dir is not None else Path(base_dir) / ".provisioner")
    return AppHoldings(
        app.name,
        tuple(found),
        delivered=journal.delivered_key_ids(app.name),
        mint_intents=journal.mint_intents(app.name),
        provided=provided_certificates(app, base_dir),
    )


def read_all_holdings(
    apps: Iterable[Any], base_dir: PathLike, *, state_dir: PathLike | None = None
) -> dict[str, AppHoldings]:
    """Holdings of every app (``App`` or the loader's ``LoadedApp``) that declares secrets, by app name."""
    out: dict[str, AppHoldings] = {}
    journal = load_journal(Path(state_dir) if state_dir is not None else Path(base_dir) / ".provisioner")
    for item in apps:
        app: App = getattr(item, "app", item)
        if app.secrets or app.certificates or app.sp_secrets:
            out[app.name] = read_holdings(app, Path(base_dir), state_dir=state_dir, journal=journal)
    return out
