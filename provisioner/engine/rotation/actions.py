"""Rotation decisions as plan actions, and the removals that run outside ``apply_plan``.

``make_plan`` (provisioner/plan.py) decides mints from Entra alone; it cannot see
which secret the sinks hold, so it would trust a newer orphan and skip a due
rotation. :func:`revise_plan` replaces its ``mint_secret`` actions for declared
secrets with ones decided by :mod:`provisioner.engine.rotation.policy`, and adds:

* ``retire_secret`` — an expired secret, or a predecessor whose overlap ended;
* ``replace_orphan_secret`` — a secret Entra lists but no sink holds; removed
  once the replacement (if one is minted) reached every sink.

``mint_secret`` stays ``apply_plan``'s job (same details as ``make_plan`` emits);
the two removal kinds run here, in the phase the policy chose: before the mint
(nothing holds them; frees room under the 2-secret limit) or after a
successful delivery of the app. A failed delivery therefore never leaves the
app without its previous secret.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from provisioner.core.errors import GraphError, ProvisionerError
from provisioner.core.progress import Progress
from provisioner.engine.planner import KIND_ORDER, Action, Change, Plan
from provisioner.engine.rotation.policy import (
    AFTER_DELIVERY,
    BEFORE_MINT,
    AppFacts,
    Evidence,
    Removal,
    SecretDecision,
    decide_app,
    secret_limit,
    stamp,
)
from provisioner.graph.batch import AdaptiveLimiter, Batcher, Request
from provisioner.graph.retry import RetryPolicy
from provisioner.model.connections import APPLICATION, SERVICE_PRINCIPAL
from provisioner.sinks.holdings import read_all_holdings

if TYPE_CHECKING:
    from provisioner.model.desired import Desired
    from provisioner.model.manifest import Certificate, Secret
    from provisioner.model.tenant import ExistingApp, TenantState
    from provisioner.sinks.holdings import AppHoldings

MINT = "mint_secret"
RETIRE = "retire_secret"
ORPHAN = "replace_orphan_secret"
MINT_CERT = "mint_certificate"
RETIRE_CERT = "retire_certificate"
ORPHAN_CERT = "replace_orphan_certificate"
REMOVE_CERT = "remove_certificate"
MINT_SP = "mint_sp_secret"
RETIRE_SP = "retire_sp_secret"
ORPHAN_SP = "replace_orphan_sp_secret"
CERTIFICATE = "certificate"
#: A service principal's own client secret: the secret lifecycle on servicePrincipals/{id}.
SP_SECRET = "service_principal_secret"
#: Removals that run outside ``apply_plan``, in the phase the policy chose.
LIFECYCLE_KINDS = frozenset({RETIRE, ORPHAN, RETIRE_CERT, ORPHAN_CERT, RETIRE_SP, ORPHAN_SP})
CERT_REMOVAL_KINDS = frozenset({RETIRE_CERT, ORPHAN_CERT})
SECRET_KINDS = frozenset(
    {MINT, RETIRE, ORPHAN, MINT_CERT, RETIRE_CERT, ORPHAN_CERT, MINT_SP, RETIRE_SP, ORPHAN_SP}
)


@dataclass(frozen=True)
class PasswordOwner:
    """What differs between an application's client secrets and its service principal's: the action
    kinds, the Graph property named in plans, the word used in summaries, and the object written to."""

    kind: str  # SecretDecision.kind
    owner: str  # MintedSecret.owner
    mint: str
    retire: str
    orphan: str
    field: str
    noun: str


APP_PASSWORDS = PasswordOwner("secret", APPLICATION, MINT, RETIRE, ORPHAN, "passwordCredentials", "secret")
SP_PASSWORDS = PasswordOwner(
    SP_SECRET,
    SERVICE_PRINCIPAL,
    MINT_SP,
    RETIRE_SP,
    ORPHAN_SP,
    "servicePrincipal.passwordCredentials",
    "service principal secret",
)
PASSWORD_OWNERS = {o.kind: o for o in (APP_PASSWORDS, SP_PASSWORDS)}
#: Credential kind (SecretDecision.kind) of each lifecycle action kind.
KIND_OF_ACTION: dict[str, str] = {
    **{k: o.kind for o in (APP_PASSWORDS, SP_PASSWORDS) for k in (o.mint, o.retire, o.orphan)},
    **dict.fromkeys((MINT_CERT, RETIRE_CERT, ORPHAN_CERT), CERTIFICATE),
}


def owner_object_id(kind: str, have: ExistingApp | None) -> str | None:
    """The object a credential of ``kind`` lives on: the application, or its service principal."""
    if have is None:
        return None
    if kind == SP_SECRET:
        return have.service_principal.object_id if have.service_principal is not None else None
    return have.object_id


def facts_for(
    name: str,
    desired_audience: str | None,
    have: ExistingApp | None,
    holdings: AppHoldings | None,
    evidence: Evidence | None = None,
) -> AppFacts:
    if have is None:
        return AppFacts(name=name, managed=False, exists=False)
    return AppFacts(
        name=name,
        managed=have.managed,
        exists=True,
        limit=secret_limit(desired_audience, have.sign_in_audience),
        holdings_certain=holdings.certain if holdings is not None else False,
        secrets=tuple(have.secrets),
        certificates=tuple(have.certificates),
        held=holdings.key_ids if holdings is not None else frozenset(),
        delivered=holdings.delivered if holdings is not None else None,
        mint_intents=holdings.mint_intents if holdings is not None else (),
        evidence=evidence,
    )


def decide_all(
    desired: Desired,
    state: TenantState,
    holdings: Mapping[str, AppHoldings],
    now: datetime,
    *,
    force: bool = False,
    evidence: Mapping[str, Evidence] | None = None,
) -> dict[str, list[SecretDecision]]:
    """Decisions for every declared secret and certificate of every desired app, by app name."""
    out: dict[str, list[SecretDecision]] = {}
    for name, want in desired.apps.items():
        if not want.secrets and not want.certificates and not want.sp_secrets:
            continue
        facts = facts_for(
            name, want.sign_in_audience, state.apps.get(name), holdings.get(name), (evidence or {}).get(name)
        )
        found = decide_app(want.secrets, facts, now, force=force) if want.secrets else []
        found += decide_certificates(want.certificates or (), facts, holdings.get(name), now, force=force)
        found += decide_sp_secrets(want.sp_secrets, facts, state.apps.get(name), now, force=force)
        out[name] = found
    return out


def decide_sp_secrets(
    specs: Iterable[Secret], facts: AppFacts, have: ExistingApp | None, now: datetime, *, force: bool = False
) -> list[SecretDecision]:
    """The secret policy on the service principal's own secrets (no count limit; its ownership is the
    application's ``provisioner:managed`` tag, its holdings and journal those of the app)."""
    specs = list(specs)
    if not specs:
        return []
    sp = have.service_principal if have is not None else None
    sp_facts = replace(facts, secrets=tuple(sp.secrets) if sp is not None else (), limit=None)
    return [replace(d, kind=SP_SECRET) for d in decide_app(specs, sp_facts, now, force=force)]


def decide_certificates(
    specs: Iterable[Certificate],
    facts: AppFacts,
    holdings: AppHoldings | None,
    now: datetime,
    *,
    force: bool = False,
) -> list[SecretDecision]:
    """The secret policy on the app's certificates (no count limit), one spec at a time.

    A generated certificate is held when a sink lists it with its key file. A certificate given
    by ``file`` is held exactly when Entra's thumbprint matches the file: replacing the file
    uploads the new one (the old one is then a predecessor, retired after ``overlap``), and
    rotation is never due for it (the user renews the file; ``status`` shows its expiry).
    """
    out: list[SecretDecision] = []
    provided = holdings.provided if holdings is not None else {}
    for spec in specs:
        mine = tuple(c for c in facts.certificates if c.display_name == spec.name)
        held = facts.held
        source: str | None = None
        if spec.file is not None:
            file = provided.get(spec.name)
            source = file.path if file is not None else None
            wanted = file.thumbprint if file is not None else None
            own = {c.key_id.lower() for c in mine}
            held = frozenset(k for k in held if k not in own) | {
                c.key_id.lower() for c in mine if wanted is not None and c.hint == wanted
            }
        cert_facts = replace(facts, secrets=facts.certificates, held=held, limit=None)
        decision = decide_app([spec], cert_facts, now, force=force and spec.file is None)[0]
        if spec.file is not None and decision.current is not None:
            decision = replace(decision, mint_reason=None, rotate_at=None)
        out.append(replace(decision, kind=CERTIFICATE, source=source))
    return out


def needs_evidence(decisions: Mapping[str, list[SecretDecision]]) -> dict[str, datetime]:
    """Apps with a replaced secret past its overlap (to be retired): the sign-in log decides. App -> since."""
    out: dict[str, datetime] = {}
    for app, items in decisions.items():
        for decision in items:
            if decision.current is None or decision.current.start is None:
                continue
            if any(r.kind == "retire" and r.reason.startswith("overlap") for r in decision.removals):
                start = decision.current.start
                out[app] = min(out.get(app, start), start)
    return out


def evidence_lines(decisions: Mapping[str, list[SecretDecision]]) -> tuple[list[str], list[str]]:
    """(replaced secrets kept because still signed in with; other lines: one per app without evidence,
    one per secret kept for the quiet period or the new secret's first sign-in)."""
    held: list[str] = []
    notes: list[str] = []
    for app, items in decisions.items():
        missing = next((d.no_evidence for d in items if d.no_evidence), "")
        kept = False
        for decision in items:
            for item in decision.held_back:
                if item.last_sign_in is not None:
                    held.append(item.line(app))
                elif item.reason.startswith("no sign-in evidence"):
                    kept = True
                else:
                    notes.append(item.line(app))
        if missing:
            follow = (
                "keeping the replaced secret (retire_without_evidence: never)"
                if kept
                else "retiring after overlap (retire_without_evidence: overlap)"
            )
            notes.append(f"{app}: no sign-in evidence ({missing}); {follow}")
    return held, notes


async def gather_evidence(
    client: Any,
    state: TenantState,
    decisions: Mapping[str, list[SecretDecision]],
    also: Mapping[str, datetime] | None = None,
) -> dict[str, Evidence]:
    """Read the sign-in log for the apps that are about to retire a replaced secret (one query each).

    ``also``: more apps (-> since when), e.g. those whose hand-over ``status`` checks.
    """
    from provisioner.graph.sign_ins import read_sign_ins

    wanted = {**(also or {}), **needs_evidence(decisions)}
    out: dict[str, Evidence] = {}
    for app, since in wanted.items():
        have = state.apps.get(app)
        if have is None:
            continue
        read = await read_sign_ins(client, have.app_id, since)
        out[app] = Evidence(read.available, read.reason, dict(read.last_use))
    return out


async def decide_with_evidence(
    client: Any,
    desired: Desired,
    state: TenantState,
    holdings: Mapping[str, AppHoldings],
    now: datetime,
    *,
    force: bool = False,
) -> dict[str, list[SecretDecision]]:
    """Decide, and where a replaced secret would retire, decide again with the sign-in log's evidence."""
    decisions = decide_all(desired, state, holdings, now, force=force)
    evidence = await gather_evidence(client, state, decisions)
    if not evidence:
        return decisions
    return decide_all(desired, state, holdings, now, force=force, evidence=evidence)


def _mint_action(decision: SecretDecision) -> Action:
    # Same shape as make_plan's mint_secret: apply_plan finds the Secret by details["name"].
    if decision.kind == CERTIFICATE:
        what = f"upload certificate file {decision.source}" if decision.source else "generate certificate"
        life = "" if decision.source else f"valid for {decision.expires_in}; "
        return Action(
            MINT_CERT,
            decision.app,
            f"{what} {decision.name!r} ({life}{decision.mint_reason})",
            [
                Change(
                    f"keyCredentials.{decision.name}",
                    None,
                    "new" if decision.source else f"new, valid for {decision.expires_in}",
                )
            ],
            {
                "name": decision.name,
                "expires_in": None if decision.source else decision.expires_in,
                "reason": decision.mint_reason,
                "file": decision.source,
            },
        )
    owner = PASSWORD_OWNERS[decision.kind]
    return Action(
        owner.mint,
        decision.app,
        f"mint {owner.noun} {decision.name!r} (expires in {decision.expires_in}; {decision.mint_reason})",
        [Change(f"{owner.field}.{decision.name}", None, f"new, expires in {decision.expires_in}")],
        {"name": decision.name, "expires_in": decision.expires_in, "reason": decision.mint_reason},
    )


def _removal_action(decision: SecretDecision, removal: Removal, object_id: str | None) -> Action:
    secret = removal.secret
    label = f"{decision.name!r} (hint {secret.hint or '?'}..., keyId {secret.key_id})"
    if decision.kind == CERTIFICATE:
        label = f"{decision.name!r} (thumbprint {secret.hint or '?'}, keyId {secret.key_id})"
        if removal.kind == "orphan":
            kind = ORPHAN_CERT
            summary = f"remove orphan certificate {label}: no sink holds its private key"
        else:
            kind = RETIRE_CERT
            summary = f"retire certificate {label}: {removal.reason}"
        field = f"keyCredentials.{decision.name}"
    else:
        owner = PASSWORD_OWNERS[decision.kind]
        field = f"{owner.field}.{decision.name}"
        if removal.kind == "orphan":
            kind = owner.orphan
            if decision.mint:
                summary = (
                    f"replace orphan {owner.noun} {label}: no sink holds its value; removed after the new one "
                    "is delivered"
                )
            else:
                summary = (
                    f"remove orphan {owner.noun} {label}: no sink holds its value; the current secret stays"
                )
        else:
            kind = owner.retire
            summary = f"retire {owner.noun} {label}: {removal.reason}"
    return Action(
        kind,
        decision.app,
        summary,
        [Change(field, secret.key_id, None)],
        {
            "name": decision.name,
            "key_id": secret.key_id,
            "hint": secret.hint,
            "expires": stamp(secret.end),
            "reason": removal.reason,
            "phase": removal.phase,
            "object_id": object_id,
        },
    )


def decision_actions(decisions: list[SecretDecision], have: ExistingApp | None) -> list[Action]:
    actions: list[Action] = []
    for decision in decisions:
        if decision.mint:
            actions.append(_mint_action(decision))
    for decision in decisions:
        for removal in decision.removals:
            assert have is not None, "removals only exist for existing apps"
            actions.append(_removal_action(decision, removal, owner_object_id(decision.kind, have)))
    return actions


def _kind_order() -> list[str]:
    return [*KIND_ORDER, *(k for k in LIFECYCLE_KINDS if k not in KIND_ORDER)]


def revise_plan(
    plan: Plan, desired: Desired, state: TenantState, decisions: Mapping[str, list[SecretDecision]]
) -> Plan:
    """``plan`` with its declared-secret mints replaced by the policy's mints, retirements and orphans."""
    declared = {(name, s.name) for name, want in desired.apps.items() for s in want.secrets}
    kept = [
        a
        for a in plan.actions
        if not (a.kind == MINT and (a.app, a.details.get("name")) in declared) and a.kind != MINT_CERT
    ]
    extra: dict[str, list[Action]] = {
        name: decision_actions(found, state.apps.get(name)) for name, found in decisions.items()
    }
    order = _kind_order()
    apps = list(dict.fromkeys([a.app for a in kept] + sorted(n for n, acts in extra.items() if acts)))
    actions: list[Action] = []
    kept_by_app: dict[str, list[Action]] = {}
    for action in kept:
        kept_by_app.setdefault(action.app, []).append(action)
    for name in sorted(apps):
        mine = kept_by_app.get(name, []) + extra.get(name, [])
        mine.sort(key=lambda a: order.index(a.kind) if a.kind in order else len(order))
        actions += mine
    return replace(plan, actions=actions)


def secret_plan(
    tenant_id: str | None, state: TenantState, decisions: Mapping[str, list[SecretDecision]]
) -> Plan:
    """A plan of secret actions only (what ``rotate`` shows and runs)."""
    actions: list[Action] = []
    for name in sorted(decisions):
        actions += decision_actions(decisions[name], state.apps.get(name))
    return Plan(tenant_id=tenant_id, actions=actions)


def executable(plan: Plan) -> Plan:
    """The part of ``plan`` that ``apply_plan`` runs (it does not know the removal kinds)."""
    return replace(plan, actions=[a for a in plan.actions if a.kind not in LIFECYCLE_KINDS])


def blocked_errors(decisions: Mapping[str, list[SecretDecision]]) -> list[ProvisionerError]:
    return [
        GraphError(f"{d.app}: cannot mint {d.kind} {d.name!r}: {d.blocked}")
        for found in decisions.values()
        for d in found
        if d.blocked
    ]


async def run_removals(
    client: Any,
    plan: Plan,
    *,
    phase: str,
    apps: Collection[str] | None = None,
    progress: Progress | None = None,
) -> tuple[list[Action], list[ProvisionerError]]:
    """Remove the secrets of ``phase`` (only for ``apps`` when given); returns (actions done, per-app errors).

    All removals go out as ``$batch`` requests (:class:`~provisioner.graph.batch.Batcher`),
    one chain per app so ``dependsOn`` keeps an app's removals in order: a
    rotation of many apps costs a round trip per 20 removals, not one per secret.
    An app's failure stops its remaining removals (Graph answers 424 for the rest
    of its chain; the next run retries them) but not other apps'. A 404 means a
    concurrent run removed the secret already, which is what was wanted. The
    batcher re-sends removePassword only when Graph said it was not executed
    (429/503): after a 504 it may have run, and a repeat would answer 400 ("no
    password credential found") for a removal that worked, so the app fails
    with that 504 and the next run, reading Entra afresh, finishes the job.
    """

    assert phase in (BEFORE_MINT, AFTER_DELIVERY)
    chains: dict[str, list[Action]] = {}
    certs: dict[str, list[Action]] = {}
    for action in plan.actions:
        if action.kind not in LIFECYCLE_KINDS or action.details.get("phase") != phase:
            continue
        if apps is not None and action.app not in apps:
            continue
        (certs if action.kind in CERT_REMOVAL_KINDS else chains).setdefault(action.app, []).append(action)
    done, errors = await _remove_certificates(client, certs, progress)
    if not chains:
        return done, errors
    policy = RetryPolicy.from_env()
    batcher = Batcher(
        client, limiter=AdaptiveLimiter(), policy=policy, on_wait=progress, label="remove secrets"
    )
    names = list(chains)
    outcomes = await batcher.run([[_remove_request(client, a) for a in chains[name]] for name in names])
    for name, answers in zip(names, outcomes, strict=True):
        for action, outcome in zip(chains[name], answers, strict=True):
            if not outcome.ok and outcome.status != 404:
                errors.append(await outcome.failure(f"{action.app}: {action.summary}"))
                break  # the rest of this app's chain was not attempted (424)
            done.append(action)
            if progress:
                progress(f"{action.app}: {action.summary}")
    return done, errors


async def _remove_certificates(
    client: Any, by_app: Mapping[str, list[Action]], progress: Progress | None
) -> tuple[list[Action], list[ProvisionerError]]:
    """Certificate removals: one read-modify-write of keyCredentials per app (Graph has no removeKey
    without a proof of possession), so every removal of an app is one PATCH."""
    from provisioner.graph.certificates import remove_keys

    done: list[Action] = []
    errors: list[ProvisionerError] = []
    for name, actions in by_app.items():
        try:
            await remove_keys(
                client, actions[0].details["object_id"], [a.details["key_id"] for a in actions], label=name
            )
        except ProvisionerError as exc:
            errors.append(exc)
            continue
        for action in actions:
            done.append(action)
            if progress:
                progress(f"{action.app}: {action.summary}")
    return done, errors


def _remove_request(client: Any, action: Action) -> Any:
    """removePassword for one action, built by the SDK's request builder (sent inside a $batch)."""
    from uuid import UUID

    from msgraph.generated.applications.item.remove_password.remove_password_post_request_body import (
        RemovePasswordPostRequestBody,
    )

    from provisioner.graph.passwords import password_builder

    owner = SERVICE_PRINCIPAL if KIND_OF_ACTION.get(action.kind) == SP_SECRET else APPLICATION
    body = RemovePasswordPostRequestBody(key_id=UUID(action.details["key_id"]))
    builder = password_builder(client, owner, action.details["object_id"]).remove_password
    return Request(builder.to_post_request_information(body), None, replay_ambiguous=False)


async def lifecycle_plan(
    plan: Plan,
    apps: Collection[Any],
    desired: Desired,
    state: TenantState,
    *,
    now: datetime,
    base_dir: Any,
    state_dir: Any,
    client: Any = None,
) -> tuple[Plan, dict[str, list[SecretDecision]]]:
    """Read what the sinks hold, decide every declared secret, and revise ``plan`` accordingly."""

    holdings = read_all_holdings(apps, base_dir, state_dir=state_dir)
    if client is not None:
        decisions = await decide_with_evidence(client, desired, state, holdings, now)
    else:
        decisions = decide_all(desired, state, holdings, now)
    return revise_plan(plan, desired, state, decisions), decisions
