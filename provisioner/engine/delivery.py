"""Delivery: connection values for every app that exists now, written to its sinks.

The one rule that spans minting and delivery lives here: a secret minted in this
run is delivered before anything else can fail, and removed again from Entra if
delivery fails, so no run leaves a valid secret that nobody holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from provisioner.core.errors import ProvisionerError, SinkError
from provisioner.core.fileio import atomic_write_json, directory_syncs_deferred
from provisioner.core.layout import certificate_key_path, default_sink_path, journal_path
from provisioner.engine.apply import ApplyResult
from provisioner.engine.options import RunOptions
from provisioner.engine.planner import Plan
from provisioner.graph.passwords import remove_password
from provisioner.graph.target import Target
from provisioner.manifest.loader import LoadedApp
from provisioner.model.connections import (
    MintedCertificate,
    connection_values,
    masked,
    merge_previous,
    read_connection_file,
)
from provisioner.model.sink_rules import folders_remembered
from provisioner.model.tenant import TenantState
from provisioner.sinks import deliver_all
from provisioner.sinks.deliver import (
    all_sinks,
    describe_destination,
    journal_deliveries,
    journal_key_ids,
    preflight,
    recover_secret,
)
from provisioner.sinks.journal import record


@dataclass
class AppConnection:
    """What apply reports per app: ids, the values written, and where they went."""

    name: str
    values: dict[str, Any]
    written_to: list[str]

    def to_dict(self, *, show_secrets: bool) -> dict[str, Any]:
        return {
            "app": self.name,
            "connection": self.values if show_secrets else masked(self.values),
            "written_to": self.written_to,
        }


@dataclass
class _Pending:
    """One app's delivery, computed before anything is written (phase one of :func:`deliver_connections`)."""

    app: Any
    object_id: str
    minted: list[Any]
    default_path: Path
    on_disk: dict[str, Any] | None
    values: dict[str, Any]
    certificates: list[MintedCertificate] = field(default_factory=list)


async def deliver_connections(
    client: Any,
    target: Target,
    loaded: list[LoadedApp],
    state: TenantState,
    result: ApplyResult,
    state_dir: Path,
    base_dir: Path,
) -> list[AppConnection]:
    """Write connection values for every app that exists now; undo a mint whose delivery failed.

    Three phases keep the work per run linear in the number of apps: every app's values are
    computed first (its default file read once), then the delivery journal records every
    app's keyIds in one write (write-ahead for the whole run), then each app is delivered.
    """

    failures: list[ProvisionerError] = []
    tenant_id = state.tenant_id or target.tenant_id or ""
    graph_endpoint = target.graph_url.rsplit("/v1.0", 1)[0]
    pending: list[_Pending] = []
    for item in loaded:
        app = item.app
        ids = result.apps.get(app.name)
        if ids is None:
            continue  # this app failed before it existed; its error is in result.errors
        minted = result.minted.get(app.name, [])
        certs = _with_paths(app.name, result.certificates.get(app.name, []), state_dir)
        default_path = default_sink_path(app.name, state_dir)
        on_disk: dict[str, Any] | None = None
        try:
            # Everything that can fail for this app before writing happens inside this block
            # (reading its sinks, recovering a value, building its values), so a failure takes
            # the mint back.
            on_disk = read_connection_file(default_path)
            existing = state.apps.get(app.name)
            live = {s.key_id for s in (existing.secrets if existing else [])} | {m.key_id for m in minted}
            live |= {c.key_id for c in (existing.certificates if existing else [])} | {
                c.key_id for c in certs
            }
            sp = existing.service_principal if existing else None
            live |= {s.key_id for s in (sp.secrets if sp else [])}
            values = connection_values(
                app,
                tenant_id=tenant_id,
                client_id=ids.app_id,
                authority_host=target.authority_host,
                graph_endpoint=graph_endpoint,
                minted=minted,
                certificates=certs,
            )
            previous = on_disk
            if not (on_disk and on_disk.get("client_secret") and on_disk.get("client_secret_id") in live):
                # The default file lost the value (fresh checkout, cleaned state dir): take it from
                # any sink that still holds a live one rather than wiping it from that sink too.
                recovered = recover_secret(app, base_dir, state_dir=state_dir, live_key_ids=live)
                if recovered:
                    previous = {**(on_disk or {}), **recovered}
            merged = merge_previous(values, previous, live_key_ids=live)
        except ProvisionerError as exc:
            failures.append(
                await _take_back(client, app.name, ids.object_id, minted, exc, default_path, on_disk, certs)
            )
            continue
        pending.append(_Pending(app, ids.object_id, minted, default_path, on_disk, merged, certs))

    connections: list[AppConnection] = []
    try:
        journal_deliveries({p.app.name: journal_key_ids(p.values, p.on_disk) for p in pending}, state_dir)
    except ProvisionerError as exc:  # nothing was delivered: every mint of this run goes back
        for p in pending:
            failures.append(
                await _take_back(
                    client, p.app.name, p.object_id, p.minted, exc, p.default_path, p.on_disk, p.certificates
                )
            )
        pending = []
    failed: list[tuple[_Pending, ProvisionerError, dict[Path, bytes | None]]] = []
    with directory_syncs_deferred():  # one directory fsync per folder, before any take-back or return
        for p in pending:
            backups: dict[Path, bytes | None] = {}
            try:
                key_files = write_key_files(p.certificates, backups)  # before the values that name them
                receipts = deliver_all(p.app, p.values, base_dir, state_dir=state_dir, journal=False)
            except ProvisionerError as exc:
                failed.append((p, exc, backups))
                continue
            connections.append(AppConnection(p.app.name, p.values, [*key_files, *(r.sink for r in receipts)]))
    for p, cause, backups in failed:
        failures.append(
            await _take_back(
                client, p.app.name, p.object_id, p.minted, cause, p.default_path, p.on_disk, p.certificates
            )
        )
        _restore_key_files(backups)
    if failures:
        result.errors.extend(failures)
    return connections


def _with_paths(app_name: str, certs: list[MintedCertificate], state_dir: Path) -> list[MintedCertificate]:
    """Generated certificates with the paths their private key (and PFX) will be written to."""
    out: list[MintedCertificate] = []
    for cert in certs:
        if cert.provided:
            out.append(cert)
            continue
        pfx = certificate_key_path(app_name, cert.name, state_dir, ".pfx") if cert.pfx_password else None
        out.append(
            replace(
                cert,
                private_key_path=str(certificate_key_path(app_name, cert.name, state_dir)),
                pfx_path=str(pfx) if pfx else None,
            )
        )
    return out


def write_key_files(certs: list[MintedCertificate], backups: dict[Path, bytes | None]) -> list[str]:
    """Write each generated certificate's private key (PEM: key + certificate; PFX if asked), mode 0600.

    ``backups`` receives what each path held before (None: nothing), so a failed delivery can put it
    back. Returns one receipt line per file; the key never appears in a message.
    """
    from provisioner.core.fileio import atomic_write_bytes

    written: list[str] = []
    for cert in certs:
        if cert.provided or cert.private_key_path is None:
            continue
        files: list[tuple[str, bytes]] = [(cert.private_key_path, cert.material.key_and_certificate_pem())]
        if cert.pfx_path and cert.pfx_password:
            files.append((cert.pfx_path, cert.material.pfx(cert.pfx_password, cert.name)))
        for name, data in files:
            path = Path(name)
            try:
                if path not in backups:
                    backups[path] = path.read_bytes() if path.is_file() else None
                atomic_write_bytes(path, data)
            except OSError as exc:
                raise SinkError(
                    f"cannot write the private key file {path}: {exc.strerror or type(exc).__name__}"
                ) from None
            written.append(f"key file {path}")
    return written


def _restore_key_files(backups: dict[Path, bytes | None]) -> None:
    """Best effort: the key files as they were before this delivery (the new key is no longer valid)."""
    from provisioner.core.fileio import atomic_write_bytes

    for path, data in backups.items():
        try:
            if data is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write_bytes(path, data)
        except OSError:
            continue


async def _take_back(
    client: Any,
    app_name: str,
    object_id: str,
    minted: list[Any],
    cause: ProvisionerError,
    default_path: Path,
    on_disk: dict[str, Any] | None,
    certs: list[MintedCertificate] | None = None,
) -> ProvisionerError:
    """Nobody reliably holds the new value: remove it from Entra first, then repair local files.

    Entra comes first because it never depends on this machine's disk (a full or read-only
    disk must not leave a valid secret nobody holds); the default file is put back as it
    was on a best-effort basis, with one line if even that fails.
    """
    if not minted and not certs:
        return SinkError(f"{app_name}: {cause}")
    lost: list[str] = []
    for secret in minted:  # on the object it was minted on: the application or its service principal
        try:
            await remove_password(client, secret.owner_id or object_id, secret.key_id, owner=secret.owner)
        except ProvisionerError:
            lost.append(secret.key_id)
    if certs:
        from provisioner.graph.certificates import remove_keys

        try:
            await remove_keys(client, object_id, [c.key_id for c in certs], label=app_name)
        except ProvisionerError:
            lost += [c.key_id for c in certs]
    notes: list[str] = []
    try:
        restore_file(default_path, on_disk)
    except OSError as exc:
        notes.append(f"could not restore {default_path}: {exc.strerror or type(exc).__name__}")
    if lost:
        notes.append(
            f"could not remove the new secret(s) {', '.join(lost)} from Entra; the next run removes them"
        )
        head = f"{app_name}: {cause}; the secret minted in this run could not be taken back"
    else:
        head = f"{app_name}: {cause}; the secret minted in this run was removed again, re-run apply"
    return SinkError("; ".join([head, *notes]))


def restore_file(path: Path, previous: dict[str, Any] | None) -> None:
    if previous is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write_json(path, previous)


def note_mint_intents(pending: Plan, state_dir: Path, now: datetime) -> None:
    """Journal, before any Graph write, that this run is about to mint for these apps.

    A secret minted now but never delivered (the run dies after ``addPassword``) is then
    recognisably this tool's orphan on the next run, even for an app nothing was ever
    delivered for. A journal that cannot be written stops the run before the first write.
    """
    mints = ("mint_secret", "mint_certificate", "mint_sp_secret")
    apps = {action.app for action in pending.actions if action.kind in mints}
    if not apps:
        return
    try:
        record(state_dir, intents=dict.fromkeys(sorted(apps), now))
    except OSError as exc:
        raise SinkError(
            f"cannot write the delivery journal {journal_path(state_dir)}: "
            f"{exc.strerror or type(exc).__name__}; nothing was changed"
        ) from None


def check_sinks(pending: Plan, loaded: list[LoadedApp], options: RunOptions) -> None:
    """Everything that can fail locally for each app's delivery, checked before any Graph write.

    Fills ``pending.destinations`` (``plan`` lists them) and ``pending.problems``: an app with a
    problem is left unchanged by apply and rotate (its actions are dropped before anything is
    written), while the other apps carry on; ``plan`` fails where apply would.
    """
    base, state_dir = options.base, options.state_dir
    with folders_remembered():
        for item in loaded:
            app = item.app
            sinks = all_sinks(app, base, state_dir)
            pending.destinations[app.name] = [describe_destination(s, app, base) for s in sinks]
            found = [str(problem) for problem in preflight(app, base, state_dir)]
            if found:
                pending.problems[app.name] = found
