"""The ``rotate`` and ``status`` workflows: read, decide, (mint, deliver, remove), report.

``rotate`` touches secrets only (apply converges everything else) and reuses
the core loop's pieces: ``apply_plan`` mints, ``delivery.deliver_connections`` delivers and
takes a mint back when a sink fails, :mod:`provisioner.engine.rotation.actions` removes
old secrets in their phase. Per-app failures do not stop other apps; they are
collected in the outcome so the report (JSON for cron/CI) is still printed
before the command exits 1.

``status`` never changes anything: it reports, per app, the secrets Entra
lists, the sinks holding each, and what the next ``rotate`` would do.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from provisioner.core.errors import ProvisionerError, SinkError
from provisioner.core.progress import Progress
from provisioner.engine.apply import apply_plan
from provisioner.engine.credential_policy import check_credential_policies
from provisioner.engine.delivery import check_sinks, deliver_connections, note_mint_intents
from provisioner.engine.options import Approve, RunOptions
from provisioner.engine.planner import Action, Plan
from provisioner.engine.rotation.actions import (
    CERTIFICATE,
    KIND_OF_ACTION,
    PASSWORD_OWNERS,
    SP_SECRET,
    blocked_errors,
    decide_all,
    decide_with_evidence,
    evidence_lines,
    executable,
    gather_evidence,
    run_removals,
    secret_plan,
)
from provisioner.engine.rotation.policy import (
    AFTER_DELIVERY,
    BEFORE_MINT,
    KIND_NOUNS,
    Evidence,
    SecretDecision,
    days_left,
    kind_label,
    stamp,
)
from provisioner.engine.tenancy import enter_tenant
from provisioner.graph.connect import graph_client
from provisioner.graph.servertime import graph_now
from provisioner.graph.state import read_state
from provisioner.graph.target import Target
from provisioner.manifest.loader import LoadedApp
from provisioner.model.connections import MintedCertificate, MintedSecret
from provisioner.model.desired import build_desired
from provisioner.model.tenant import ExistingApp, ExistingSecret, TenantState
from provisioner.sinks.holdings import AppHoldings, read_all_holdings


def _brief(
    secret: ExistingSecret | MintedSecret | MintedCertificate | None, now: datetime
) -> dict[str, Any] | None:
    if secret is None:
        return None
    end = getattr(secret, "end", None) or getattr(secret, "expires", None)
    return {
        "key_id": secret.key_id,
        "hint": secret.thumbprint if isinstance(secret, MintedCertificate) else secret.hint,
        "expires": stamp(end),
        "days_left": days_left(end, now),
    }


@dataclass
class SecretOutcome:
    """One declared secret after a rotate run. ``value`` is set only for a new secret, never printed unasked."""

    app: str
    name: str
    status: str  # rotated | retired | unchanged | blocked | failed
    reason: str | None
    current: dict[str, Any] | None
    previous: dict[str, Any] | None = None  # the replaced secret, valid until previous["retire_after"]
    removed: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    value: str | None = field(default=None, repr=False)
    kind: str = "secret"  # or "certificate" (never has a value here: its key is in a file)

    def to_dict(self, *, show_secrets: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "app": self.app,
            "kind": self.kind,
            "secret": self.name,
            "status": self.status,
            "reason": self.reason,
            "current": self.current,
            "previous": self.previous,
            "removed": self.removed,
            "error": self.error,
        }
        if show_secrets and self.value:
            out["value"] = self.value
        return out


@dataclass
class RotateOutcome:
    now: datetime
    plan: Plan
    secrets: list[SecretOutcome]
    errors: list[ProvisionerError] = field(default_factory=list)
    warnings: list[Any] = field(default_factory=list)
    #: "<app>: old secret <hint> still used (last sign-in <time>, from <ip>)" lines.
    held_back: list[str] = field(default_factory=list)
    #: One line per app configured by hand that got a new value (its hand-over text and file).
    handovers: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.errors:
            return "failed"
        if any(s.status in ("rotated", "retired") for s in self.secrets):
            return "rotated"
        return "unchanged"

    def to_dict(self, *, show_secrets: bool) -> dict[str, Any]:
        return {
            "status": self.status,
            "now": stamp(self.now),
            "secrets": [s.to_dict(show_secrets=show_secrets) for s in self.secrets],
            "errors": [str(e) for e in self.errors],
            "warnings": [str(w) for w in self.warnings],
            "held_back": list(self.held_back),
            "handovers": list(self.handovers),
        }


def _needs_repair(decisions: list[SecretDecision], holdings: AppHoldings | None) -> bool:
    """A sink misses the current value while the default connection file has it (safe to re-deliver).

    Without the value in the default file a delivery would write sinks *without*
    the secret, so an app is re-delivered only when the file can supply it.
    """
    if holdings is None or not holdings.sinks:
        return False
    default, others = holdings.sinks[0], holdings.sinks[1:]
    # Sinks other than JSON files report the application's secret only (not the principal's).
    decisions = [d for d in decisions if d.kind != SP_SECRET]
    for decision in decisions:
        current = decision.current
        if current is None or current.key_id not in default.key_ids:
            return False
    return any(
        s.remembers
        and s.error is None
        and any(d.current and d.current.key_id not in s.key_ids for d in decisions)
        for s in others
    )


async def rotate_in(
    target: Target,
    loaded: list[LoadedApp],
    options: RunOptions,
    approve: Approve,
    progress: Progress | None = None,
) -> RotateOutcome:
    """Decide, ask ``approve``, then mint, deliver and remove in one tenant (``options.force`` mints now)."""
    force, state_dir, base_dir = options.force, options.state_dir, options.base
    errors: list[ProvisionerError] = []
    async with graph_client(target) as client:
        state = await read_state(client, loaded, tenant_id=target.tenant_id)
        enter_tenant(target, state.tenant_id, state_dir, progress)
        now = state.server_time or await graph_now(client)  # Date of the read's answers
        present = [item for item in loaded if state.apps.get(item.app.name) is not None]
        for item in loaded:
            if state.apps.get(item.app.name) is None:
                errors.append(
                    ProvisionerError(
                        f"{item.app.name}: no such application in the tenant; run provisioner apply first"
                    )
                )
        desired = build_desired(present, state)
        holdings = read_all_holdings(present, base_dir, state_dir=state_dir)
        decisions = await decide_with_evidence(client, desired, state, holdings, now, force=force)
        pending = secret_plan(state.tenant_id, state, decisions)
        check_sinks(pending, present, options)  # local failures first: those apps are left alone
        check_credential_policies(pending, desired, state)
        blocked = pending.drop_blocked()
        present = [item for item in present if item.app.name not in blocked]
        errors += [SinkError(problem) for problem in pending.problem_lines()]
        decision = approve(pending)
        if inspect.isawaitable(decision):  # a fan-out run waits until every tenant has decided
            decision = await decision
        if not decision:
            raise ProvisionerError("rotate cancelled; nothing was changed")

        note_mint_intents(pending, state_dir, now)  # before the first Graph write
        early, early_errors = await run_removals(client, pending, phase=BEFORE_MINT, progress=progress)
        result = await apply_plan(client, executable(pending), desired, state, progress=progress, now=now)
        deliver = [
            item
            for item in present
            if result.minted.get(item.app.name)
            or result.certificates.get(item.app.name)
            or _needs_repair(decisions.get(item.app.name, []), holdings.get(item.app.name))
        ]
        connections = await deliver_connections(client, target, deliver, state, result, state_dir, base_dir)
        delivered = {c.name for c in connections}
        failed = {item.app.name for item in deliver} - delivered
        handovers = write_handovers(
            present, result.minted, delivered, pending.destinations, state, state_dir, now
        )
        late, late_errors = await run_removals(
            client,
            pending,
            phase=AFTER_DELIVERY,
            apps={item.app.name for item in present} - failed,
            progress=progress,
        )
    errors += [*early_errors, *result.errors, *late_errors, *blocked_errors(decisions)]
    secrets = _outcomes(
        decisions, result.minted, [*early, *late], failed, errors, now, certificates=result.certificates
    )
    held, notes = evidence_lines(decisions)
    return RotateOutcome(
        now=now,
        plan=pending,
        secrets=secrets,
        errors=errors,
        warnings=notes,
        held_back=held,
        handovers=handovers,
    )


def _outcomes(
    decisions: dict[str, list[SecretDecision]],
    minted: dict[str, list[MintedSecret]],
    removed: list[Action],
    failed: set[str],
    errors: list[ProvisionerError],
    now: datetime,
    *,
    certificates: dict[str, list[MintedCertificate]] | None = None,
) -> list[SecretOutcome]:
    """Per declared secret or certificate: what this run did, the one in use now, and the one it replaced."""
    out: list[SecretOutcome] = []
    for app in sorted(decisions):
        app_error = next((str(e) for e in errors if str(e).startswith(f"{app}:")), None)
        for decision in decisions[app]:
            new: MintedSecret | MintedCertificate | None
            if decision.kind == CERTIFICATE:
                new = next((c for c in (certificates or {}).get(app, []) if c.name == decision.name), None)
            else:
                owner = PASSWORD_OWNERS[decision.kind].owner
                new = next(
                    (m for m in minted.get(app, []) if m.name == decision.name and m.owner == owner), None
                )
            gone = [
                {"key_id": a.details["key_id"], "hint": a.details["hint"], "reason": a.details["reason"]}
                for a in removed
                if a.app == app
                and a.details["name"] == decision.name
                and KIND_OF_ACTION.get(a.kind) == decision.kind
            ]
            outcome = SecretOutcome(
                app=app,
                name=decision.name,
                status="unchanged",
                reason=decision.mint_reason,
                current=_brief(decision.current, now),
                removed=gone,
                kind=decision.kind,
            )
            if decision.blocked:
                outcome.status, outcome.error = "blocked", decision.blocked
            elif new is not None and app not in failed:
                outcome.status, outcome.current = "rotated", _brief(new, now)
                outcome.value = new.value if isinstance(new, MintedSecret) else None
                if decision.current is not None:
                    # The replaced secret stays valid `overlap` after the new one's start (this run).
                    outcome.previous = {
                        **(_brief(decision.current, now) or {}),
                        "retire_after": stamp(now + decision.overlap),
                    }
            elif decision.mint or len(gone) < len(decision.removals):
                outcome.status = "failed"
                outcome.error = app_error or "not completed; re-run rotate"
            elif gone:
                outcome.status = "retired"
            if outcome.previous is None and decision.waiting and outcome.status != "failed":
                wait = decision.waiting[-1]  # the newest predecessor, still inside its overlap
                outcome.previous = {
                    **(_brief(wait.secret, now) or {}),
                    "retire_after": stamp(wait.retire_at) if wait.retire_at else None,
                }
            out.append(outcome)
    return out


# ---------------------------------------------------------------- status


@dataclass
class SecretRow:
    """One secret Entra lists for an app, as ``status`` shows it."""

    name: str | None
    key_id: str
    hint: str | None
    start: datetime | None
    end: datetime | None
    state: str
    held_by: list[str]
    #: Last sign-in with this keyId (time, client IP) when the sign-in log was read; None otherwise.
    last_use: tuple[datetime, str] | None = None
    rotate_at: datetime | None = None  # current secret: when its rotate_before window opens
    retire_at: datetime | None = None  # previous secret: when its overlap ends
    kind: str = "secret"  # or "certificate" (hint: its thumbprint)

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "secret": self.name,
            "key_id": self.key_id,
            "hint": self.hint,
            "start": stamp(self.start) if self.start else None,
            "expires": stamp(self.end),
            "days_left": days_left(self.end, now),
            "state": self.state,
            "held_by": self.held_by,
            "last_sign_in": stamp(self.last_use[0]) if self.last_use else None,
            "last_sign_in_from": self.last_use[1] if self.last_use else None,
        }


@dataclass
class AppStatus:
    app: str
    client_id: str | None
    managed: bool
    secrets: list[SecretRow]
    sinks: list[dict[str, Any]]
    next: dict[str, str]  # declared secret -> what the next rotate would do
    problems: list[str]
    notes: list[str]

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "app": self.app,
            "client_id": self.client_id,
            "managed": self.managed,
            "healthy": not self.problems,
            "secrets": [row.to_dict(now) for row in self.secrets],
            "sinks": self.sinks,
            "next_rotate": [{"secret": k, "action": v} for k, v in self.next.items()],
            "problems": self.problems,
            "notes": self.notes,
        }


@dataclass
class StatusOutcome:
    now: datetime
    apps: list[AppStatus]
    warnings: list[Any] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(not a.problems for a in self.apps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": stamp(self.now),
            "healthy": self.healthy,
            "apps": [a.to_dict(self.now) for a in self.apps],
            "warnings": [str(w) for w in self.warnings],
        }


async def read_in(
    target: Target,
    loaded: list[LoadedApp],
    state_dir: Path,
    progress: Progress | None = None,
    *,
    base_dir: Path | None = None,
) -> tuple[TenantState, datetime, dict[str, Evidence]]:
    """One tenant's state, Graph's clock and (with ``base_dir``) the sign-in evidence ``status`` needs."""
    async with graph_client(target) as client:
        state = await read_state(client, loaded, tenant_id=target.tenant_id)
        enter_tenant(target, state.tenant_id, state_dir, progress)
        now = state.server_time or await graph_now(client)
        evidence: dict[str, Evidence] = {}
        if base_dir is not None:
            desired = build_desired([i for i in loaded if state.apps.get(i.app.name)], state)
            holdings = read_all_holdings(loaded, base_dir, state_dir=state_dir)
            decisions = decide_all(desired, state, holdings, now)
            handover = {
                d.app: d.current.start
                for item in loaded
                if item.app.handover
                for d in decisions.get(item.app.name, [])
                if d.current is not None and d.current.start is not None
            }
            evidence = await gather_evidence(client, state, decisions, also=handover)
        return state, now, evidence


def status_of(
    loaded: list[LoadedApp],
    state: TenantState,
    now: datetime,
    *,
    base_dir: Path,
    state_dir: Path,
    evidence: dict[str, Evidence] | None = None,
) -> StatusOutcome:
    """Build the status report from what was read (no Graph calls; sinks are read here)."""

    desired = build_desired(loaded, state)
    holdings = read_all_holdings(loaded, base_dir, state_dir=state_dir)
    decisions = decide_all(desired, state, holdings, now, evidence=evidence)
    apps = [
        _app_status(
            item.app.name,
            state.apps.get(item.app.name),
            holdings[item.app.name],
            decisions,
            now,
            (evidence or {}).get(item.app.name),
        )
        for item in loaded
    ]
    for item, app_status in zip(loaded, apps, strict=True):
        if item.app.handover:
            app_status.notes.append(
                handover_state(decisions.get(item.app.name, []), (evidence or {}).get(item.app.name))
            )
    held, notes = evidence_lines(decisions)
    return StatusOutcome(now=now, apps=apps, warnings=[*notes, *held])


def _app_status(
    name: str,
    have: ExistingApp | None,
    holdings: AppHoldings,
    decisions: dict[str, list[SecretDecision]],
    now: datetime,
    evidence: Evidence | None = None,
) -> AppStatus:
    found = decisions.get(name, [])
    problems: list[str] = []
    notes: list[str] = []
    sinks = [
        {
            "sink": s.sink,
            "key_ids": sorted(s.key_ids),
            "keeps_value": s.remembers,
            "error": s.error,
        }
        for s in holdings.sinks
    ]
    if have is None:
        problems.append("no such application in the tenant; run provisioner apply")
        return AppStatus(name, None, False, [], sinks, {}, problems, notes)
    sp_secrets = have.service_principal.secrets if have.service_principal is not None else []
    live = {
        s.key_id.lower(): s
        for s in [*have.secrets, *have.certificates, *sp_secrets]
        if s.end is None or s.end > now
    }
    rows: list[SecretRow] = []
    for kind, creds in (
        ("secret", have.secrets),
        ("certificate", have.certificates),
        (SP_SECRET, sp_secrets),
    ):
        declared = {d.name: d for d in found if d.kind == kind}
        rows += _rows(kind, creds, declared, holdings, have.managed, now, evidence)
    return _finish_status(name, have, holdings, found, rows, sinks, live, problems, notes, now)


def _rows(
    kind: str,
    creds: list[ExistingSecret],
    declared: dict[str, SecretDecision],
    holdings: AppHoldings,
    managed: bool,
    now: datetime,
    evidence: Evidence | None,
) -> list[SecretRow]:
    rows: list[SecretRow] = []
    for secret in sorted(creds, key=lambda s: (s.display_name or "", s.start or now)):
        rows.append(
            SecretRow(
                name=secret.display_name,
                key_id=secret.key_id,
                hint=secret.hint,
                start=secret.start,
                end=secret.end,
                state=_state_of(secret, declared.get(secret.display_name or ""), managed, now),
                held_by=holdings.holders(secret.key_id),
                last_use=evidence.last(secret.key_id)
                if evidence is not None and evidence.available
                else None,
                rotate_at=_rotate_at(secret, declared.get(secret.display_name or "")),
                retire_at=_retire_at(secret, declared.get(secret.display_name or "")),
                kind=kind,
            )
        )
    return rows


def _finish_status(
    name: str,
    have: ExistingApp,
    holdings: AppHoldings,
    found: list[SecretDecision],
    rows: list[SecretRow],
    sinks: list[dict[str, Any]],
    live: dict[str, ExistingSecret],
    problems: list[str],
    notes: list[str],
    now: datetime,
) -> AppStatus:
    for sink in holdings.sinks:
        if sink.error:
            problems.append(f"cannot read {sink.sink}: {sink.error}")
        for key_id in sorted(sink.key_ids - set(live)):
            problems.append(f"{sink.sink} holds keyId {key_id}, which is expired or no longer in Entra")
    for decision in found:
        if decision.current is None:
            noun = KIND_NOUNS.get(decision.kind, decision.kind)
            problems.append(f"{noun} {decision.name!r}: no sink holds a live {noun}")
        if decision.blocked:
            problems.append(
                f"{KIND_NOUNS.get(decision.kind, decision.kind)} {decision.name!r}: {decision.blocked}"
            )
        for stale in decision.stale:
            notes.append(
                f"secret {decision.name!r}: {', '.join(holdings.holders(stale.key_id))} still hold(s) "
                f"the older keyId {stale.key_id}; the next apply/rotate delivers the current one"
            )
    return AppStatus(
        app=name,
        client_id=have.app_id,
        managed=have.managed,
        secrets=rows,
        sinks=sinks,
        next={kind_label(d.kind, d.name): d.next_step(now) for d in found},
        problems=problems,
        notes=notes,
    )


def handover_state(decisions: list[SecretDecision], evidence: Evidence | None) -> str:
    """Done once every current secret's keyId shows up in the sign-in log (the product uses it)."""
    if evidence is None or not evidence.available:
        why = evidence.reason if evidence is not None else "sign-in log not read"
        return f"hand-over: cannot tell whether it is done (no sign-in evidence: {why})"
    pending = [d for d in decisions if d.current is not None and evidence.last(d.current.key_id) is None]
    if pending:
        return (
            "hand-over: pending (the new secret "
            + ", ".join(f"{d.current.hint or '?'}..." for d in pending if d.current)
            + " has not signed in yet)"
        )
    return "hand-over: done (the current secret has signed in)"


def write_handovers(
    loaded: list[LoadedApp],
    minted: dict[str, list[MintedSecret]],
    delivered: set[str],
    destinations: dict[str, list[str]],
    state: TenantState,
    state_dir: Path,
    now: datetime,
) -> list[str]:
    """After a rotation: a hand-over file per app configured by hand; returns the lines to print."""
    from provisioner.core.fileio import atomic_write_text
    from provisioner.core.layout import handover_path

    lines: list[str] = []
    for item in loaded:
        name = item.app.name
        if not item.app.handover or name not in delivered or not minted.get(name):
            continue
        have = state.apps.get(name)
        changed = [
            f"- client secret {m.name!r}: new keyId {m.key_id}, hint {m.hint}..., expires {stamp(m.expires)}"
            for m in minted[name]
        ]
        where = [f"- {d}" for d in destinations.get(name, [])]
        path = handover_path(name, state_dir)
        text = "\n".join(
            [
                f"# Hand-over: {name}",
                "",
                f"Rotated {stamp(now)} in tenant {state.tenant_id}; client id {have.app_id if have else '?'} "
                "(unchanged).",
                "",
                "Changed values:",
                *changed,
                "",
                "The new value is in:",
                *(where or ["- the default connection file"]),
                "",
                f"Where it goes: {item.app.handover}",
                "",
                "Done when the new keyId shows up in the sign-in log (provisioner status: 'hand-over: done').",
                "The old secret keeps working until rotate retires it.",
                "",
            ]
        )
        atomic_write_text(path, text)
        lines.append(
            f"{name}: hand-over: {item.app.handover} (new secret {minted[name][0].hint}...; see {path})"
        )
    return lines


def _rotate_at(secret: ExistingSecret, decision: SecretDecision | None) -> datetime | None:
    if decision is None or decision.current is None or decision.current.key_id != secret.key_id:
        return None
    return decision.rotate_at


def _retire_at(secret: ExistingSecret, decision: SecretDecision | None) -> datetime | None:
    if decision is None:
        return None
    return next((w.retire_at for w in decision.waiting if w.secret.key_id == secret.key_id), None)


def _state_of(secret: ExistingSecret, decision: SecretDecision | None, managed: bool, now: datetime) -> str:
    if decision is None:
        return "undeclared (apply removes it)" if managed else "undeclared (not managed; left alone)"
    if secret.end is not None and secret.end <= now:
        return "expired"
    if decision.current is not None and secret.key_id == decision.current.key_id:
        if decision.mint_reason:
            return "current, rotation due"
        return "current"
    if secret in decision.stale:
        return "stale (a sink still holds it)"
    for held in decision.held_back:
        if held.secret.key_id == secret.key_id:
            return "previous, still used" if held.last_sign_in else f"previous, kept ({held.reason})"
    for wait in decision.waiting:
        if wait.secret.key_id == secret.key_id:
            return f"previous, valid until {stamp(wait.retire_at)}" if wait.retire_at else "previous"
    for removal in decision.removals:
        if removal.secret.key_id == secret.key_id:
            return "orphan (no sink holds it)" if removal.kind == "orphan" else "previous, overlap ended"
    if secret in decision.kept:
        return "kept (delivered before; no sink here holds it)"
    return "not managed (left alone)"
