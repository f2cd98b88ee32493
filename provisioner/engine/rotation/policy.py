"""Pure rotation decisions: given Entra's secrets, what the sinks hold, and "now", what to do.

No I/O, no SDK: every rule here is unit tested on plain dataclasses
(tests/unit/test_rotation_policy.py).

Per declared secret (matched by its description, ``displayName`` in Entra) the
secrets Entra lists fall into these classes:

* **current** — the newest live secret whose value some sink holds. It is the
  one products use; rotation is judged by *its* expiry, never by a newer
  secret nobody holds.
* **stale** — an older live secret a sink still holds (a sink missed the last
  delivery). Never removed while a sink holds it; the next delivery fixes it.
* **predecessor** — an older live secret no sink holds: the one a rotation
  replaced. Kept for ``overlap`` after the current secret's ``startDateTime``
  (consumers pick up the new value meanwhile), then retired. With a delivery
  journal (:attr:`AppFacts.delivered`), only a secret the journal lists was
  ever delivered and so can be a predecessor.
* **orphan** — a live secret no sink holds that the delivery journal shows was
  never delivered: Graph returned its value once and nobody kept it (the run was
  killed after ``addPassword``, or killed after delivering the orphan's
  replacement but before removing it, or a rollback failed). Useless to
  everyone: replaced if needed, then removed.
* **kept** — a live secret no sink holds that was delivered (or, without a
  journal, may have been), and is not older than the current one: someone may
  use it, so it is never removed as an orphan. A newer secret is minted and
  delivered; from then on it is a predecessor and retires after ``overlap``.
* **expired** — removed (Entra keeps listing expired secrets otherwise).

Removal of any kind needs ownership: only apps tagged ``provisioner:managed``
(:data:`provisioner.model.tenant.MANAGED_TAG`) lose secrets, and only when every
sink could be read (an unreadable sink might hold the value).

Apps that personal Microsoft accounts sign in to hold at most
:data:`PERSONAL_SECRET_LIMIT` secrets; room for a replacement is made by
removing orphans before the mint, and a mint that still does not fit is
*blocked* (reported, never attempted) until the predecessor retires.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from provisioner.model.manifest import Secret
from provisioner.model.tenant import ExistingSecret

PERSONAL_SECRET_LIMIT = 2

#: When a removal runs. Expired secrets and predecessors past their overlap are
#: held by no sink, so they go before the mint (freeing room); orphans only after
#: the replacement reached every sink, unless room is needed for the mint.
BEFORE_MINT = "before_mint"
AFTER_DELIVERY = "after_delivery"

_EPOCH = datetime.min.replace(tzinfo=UTC)
#: A secret whose startDateTime lies this long after a recorded mint intent is that mint's
#: (startDateTime has whole seconds: a second of slack below the intent).
INTENT_WINDOW = timedelta(minutes=15)
_INTENT_SLACK = timedelta(seconds=1)
_FOREVER = datetime.max.replace(tzinfo=UTC)


#: How reports name each credential kind (``SecretDecision.kind``).
KIND_NOUNS = {
    "secret": "secret",
    "certificate": "certificate",
    "service_principal_secret": "service principal secret",
}


def kind_label(kind: str, name: str | None) -> str:
    """A declared credential as reports name it: an app secret by its name, others with their kind."""
    text = name or "(no description)"
    return text if kind == "secret" else f"{KIND_NOUNS.get(kind, kind)} {text}"


def stamp(moment: datetime | None) -> str:
    """Graph's timestamp format; "never" for a secret without an end date."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "never"


def _age(secret: ExistingSecret) -> tuple[datetime, datetime, str]:
    """Sort key: minted later = newer; ties broken by expiry, then keyId (deterministic)."""
    return (secret.start or _EPOCH, secret.end or _FOREVER, secret.key_id)


def _not_newer(secret: ExistingSecret, current: ExistingSecret) -> bool:
    """Was ``secret`` minted no later than ``current``, as far as Entra can tell?

    ``startDateTime`` has whole seconds: a replacement minted in its predecessor's second ties with it
    (and so does the expiry, both being "now + expires_in"). :func:`_age`'s keyId tie-break orders
    such a pair at random, so a tie counts as "not newer": the predecessor is kept for its overlap
    rather than removed at once as an orphan (the journal still tells a never-delivered one apart).
    """
    return (secret.start or _EPOCH) <= (current.start or _EPOCH)


@dataclass(frozen=True)
class Removal:
    """An Entra secret to remove, why, and in which phase."""

    secret: ExistingSecret
    kind: str  # "retire" (expired / overlap ended) or "orphan"
    reason: str
    phase: str


@dataclass(frozen=True)
class Evidence:
    """Entra's sign-in log for one app: last sign-in (time, client IP) per credential keyId (lower case).

    ``available`` False: the log could not be read (no AuditLog.Read.All, no P1/P2 licence, an error);
    ``reason`` says why. Then the manifest's ``retire_without_evidence`` decides.
    """

    available: bool
    reason: str = ""
    last_use: Mapping[str, tuple[datetime, str]] = field(default_factory=dict)

    def last(self, key_id: str) -> tuple[datetime, str] | None:
        return self.last_use.get(key_id.lower())


@dataclass(frozen=True)
class HeldBack:
    """A replaced secret past its overlap that is kept because the sign-in log shows it in use."""

    secret: ExistingSecret
    last_sign_in: datetime | None
    client: str
    reason: str

    def line(self, app: str) -> str:
        if self.last_sign_in is None:
            return f"{app}: old secret {self.secret.hint or '?'}... kept ({self.reason})"
        return (
            f"{app}: old secret {self.secret.hint or '?'}... still used "
            f"(last sign-in {stamp(self.last_sign_in)}, from {self.client})"
        )


@dataclass(frozen=True)
class Waiting:
    """A predecessor still inside its overlap: retired by the first run after ``retire_at``."""

    secret: ExistingSecret
    retire_at: datetime | None  # None: the current secret has no start date; kept until it expires


@dataclass(frozen=True)
class SecretDecision:
    """What to do about one declared secret of one app."""

    app: str
    name: str
    expires_in: str
    current: ExistingSecret | None
    mint_reason: str | None = None
    overlap: timedelta = timedelta(0)  # how long a replaced secret stays valid after its successor starts
    removals: tuple[Removal, ...] = ()
    waiting: tuple[Waiting, ...] = ()
    stale: tuple[ExistingSecret, ...] = ()
    untouched: tuple[ExistingSecret, ...] = ()  # unheld secrets of an app the tool does not own
    #: Unheld secrets that were (or, without a journal, may have been) delivered: never orphans;
    #: they leave by the rotation rules once a newer secret is current (overlap) or when they expire.
    kept: tuple[ExistingSecret, ...] = ()
    blocked: str | None = None
    rotate_at: datetime | None = None  # when the current secret enters its rotate_before window
    #: Replaced secrets past their overlap, kept because of (or for lack of) sign-in evidence.
    held_back: tuple[HeldBack, ...] = ()
    #: Why sign-in evidence was unavailable when a retirement needed it ("" when it was not needed).
    no_evidence: str = ""
    #: "secret" (passwordCredentials) or "certificate" (keyCredentials): the same lifecycle, other writes.
    kind: str = "secret"
    #: A certificate given by file: its resolved path (the mint uploads it); None otherwise.
    source: str | None = None

    @property
    def mint(self) -> bool:
        return self.mint_reason is not None and self.blocked is None

    @property
    def orphans(self) -> tuple[ExistingSecret, ...]:
        return tuple(r.secret for r in self.removals if r.kind == "orphan")

    @property
    def changes(self) -> bool:
        return self.mint or bool(self.removals)

    def next_step(self, now: datetime) -> str:
        """One line: what the next ``rotate`` would do (for ``status``)."""
        if self.blocked:
            return f"blocked: {self.blocked}"
        steps: list[str] = []
        if self.mint_reason:
            steps.append(f"mint a new secret ({self.mint_reason})")
        for removal in self.removals:
            steps.append(f"remove {removal.secret.hint or '?'}... ({removal.reason})")
        if steps:
            return "; ".join(steps)
        later: list[str] = []
        kept_back = {h.secret.key_id for h in self.held_back}
        for held in self.held_back:
            used = (
                f"still used, last sign-in {stamp(held.last_sign_in)}" if held.last_sign_in else held.reason
            )
            later.append(f"keep {held.secret.hint or '?'}... ({used})")
        for wait in self.waiting:
            if wait.secret.key_id in kept_back:
                continue
            when = stamp(wait.retire_at) if wait.retire_at else f"its expiry {stamp(wait.secret.end)}"
            later.append(f"retire {wait.secret.hint or '?'}... after {when}")
        if self.rotate_at is not None:
            later.append(f"rotate after {stamp(self.rotate_at)}")
        return "nothing now" + (f"; {', '.join(later)}" if later else "")


@dataclass(frozen=True)
class AppFacts:
    """What the policy needs to know about one app besides its secrets."""

    name: str
    managed: bool
    exists: bool
    limit: int | None = None  # max client secrets (personal-account audiences)
    holdings_certain: bool = True  # every sink could be read
    secrets: tuple[ExistingSecret, ...] = ()  # all of the app's secrets in Entra, declared or not
    certificates: tuple[ExistingSecret, ...] = ()  # the app's certificates (keyCredentials, usage Verify)
    held: frozenset[str] = field(default_factory=frozenset)  # keyIds some sink holds (lower case)
    #: keyIds this state dir ever delivered (lower case); None: no journal entry for the app, so
    #: an unheld secret older than the current one is taken for a predecessor (it might be one).
    delivered: frozenset[str] | None = None
    #: Graph times at which runs of this state dir asked for a new secret of the app (mint intents).
    mint_intents: tuple[datetime, ...] = ()
    #: The sign-in log; None: not consulted (retirement follows ``overlap`` alone, as without evidence).
    evidence: Evidence | None = None


#: Graph ``signInAudience`` values that admit personal Microsoft accounts.
PERSONAL_SIGN_IN_AUDIENCES = frozenset({"AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"})


def secret_limit(*audiences: str | None) -> int | None:
    """Personal-account audiences cap client secrets at 2 (the stricter audience wins during a change)."""
    return PERSONAL_SECRET_LIMIT if any(a in PERSONAL_SIGN_IN_AUDIENCES for a in audiences) else None


def _maybe_delivered(secret: ExistingSecret, facts: AppFacts) -> bool:
    """Could a consumer hold this unheld secret's value? Unknown without a journal, so yes.

    Only a secret the journal shows this tool minted and never delivered is an orphan: a
    delivered one may be in use somewhere this state dir cannot see (another checkout, a
    product it was pasted into), so it leaves only by the rotation rules.
    """
    key = secret.key_id.lower()
    if facts.delivered is not None and key in {k.lower() for k in facts.delivered}:
        return True
    if any(t - _INTENT_SLACK <= (secret.start or _EPOCH) <= t + INTENT_WINDOW for t in facts.mint_intents):
        return False  # this state dir asked for it and never delivered it
    return facts.delivered is None


def decide_secret(
    spec: Secret,
    facts: AppFacts,
    now: datetime,
    *,
    force: bool = False,
) -> SecretDecision:
    """Classify the Entra secrets named ``spec.name`` and decide mint/retire/orphan for one secret."""
    held = {k.lower() for k in facts.held}
    mine = sorted((s for s in facts.secrets if s.display_name == spec.name), key=_age)
    expired = [s for s in mine if s.end is not None and s.end <= now]
    live = [s for s in mine if s not in expired]
    held_live = [s for s in live if s.key_id.lower() in held]
    current = held_live[-1] if held_live else None
    may_remove = facts.managed and facts.holdings_certain

    removals: list[Removal] = []
    waiting: list[Waiting] = []
    stale: list[ExistingSecret] = []
    untouched: list[ExistingSecret] = []
    orphans: list[ExistingSecret] = []
    kept: list[ExistingSecret] = []
    held_back: list[HeldBack] = []
    for secret in live:
        if secret is current:
            continue
        if secret.key_id.lower() in held:
            stale.append(secret)
        elif current is not None and _not_newer(secret, current) and _maybe_delivered(secret, facts):
            retire_at = current.start + spec.overlap_period if current.start else None
            if not may_remove:
                untouched.append(secret)
            elif retire_at is not None and now >= retire_at:
                verdict = judge_use(spec, facts.evidence, secret, current, now)
                if isinstance(verdict, str):
                    removals.append(
                        Removal(
                            secret,
                            "retire",
                            f"overlap {spec.overlap} ended {stamp(retire_at)}{verdict}",
                            BEFORE_MINT,
                        )
                    )
                else:
                    held_back.append(verdict)
                    waiting.append(Waiting(secret, None))
            else:
                waiting.append(Waiting(secret, retire_at))
        elif not may_remove:
            untouched.append(secret)
        elif _maybe_delivered(secret, facts):
            kept.append(secret)
        else:
            orphans.append(secret)
    if may_remove:
        for secret in expired:
            removals.append(Removal(secret, "retire", f"expired {stamp(secret.end)}", BEFORE_MINT))
    for secret in orphans:
        removals.append(
            Removal(secret, "orphan", "orphan: Entra lists it but no sink holds its value", AFTER_DELIVERY)
        )

    rotate_at = current.end - spec.rotate_window if current and current.end else None
    reason: str | None = None
    if force:
        reason = "forced"
    elif current is None:
        if orphans or untouched or kept:
            reason = "no sink holds a live secret"
        elif expired:
            reason = f"expired {stamp(max(s.end for s in expired if s.end))}"
        else:
            reason = "missing"
    elif rotate_at is not None and now >= rotate_at:
        reason = f"expires {stamp(current.end)}, within rotate_before {spec.rotate_before}"
    return SecretDecision(
        app=facts.name,
        name=spec.name,
        expires_in=spec.expires_in,
        current=current,
        mint_reason=reason,
        overlap=spec.overlap_period,
        removals=tuple(removals),
        waiting=tuple(waiting),
        stale=tuple(stale),
        untouched=tuple(untouched),
        kept=tuple(kept),
        rotate_at=rotate_at,
        held_back=tuple(held_back),
        no_evidence=_no_evidence(facts.evidence, bool(waiting or held_back or removals)),
    )


def _no_evidence(evidence: Evidence | None, needed: bool) -> str:
    if not needed or evidence is None or evidence.available:
        return ""
    return evidence.reason or "sign-in logs unavailable"


def judge_use(
    spec: Secret, evidence: Evidence | None, old: ExistingSecret, new: ExistingSecret, now: datetime
) -> str | HeldBack:
    """May ``old`` (past its overlap) be retired? A reason suffix (str) when yes, a HeldBack when not.

    With evidence: only once its keyId has had no sign-in for ``quiet_period`` since the new secret
    started (delivery follows the mint within the run), and, if the manifest asks, once the new
    keyId has signed in. Without evidence (or not consulted): ``retire_without_evidence``.
    """
    if evidence is None or not evidence.available:
        if evidence is not None and spec.retire_without_evidence == "never":
            why = evidence.reason or "sign-in logs unavailable"
            return HeldBack(old, None, "?", f"no sign-in evidence: {why}; retire_without_evidence: never")
        return ""
    since = new.start or now
    last = evidence.last(old.key_id)
    if last is not None and last[0] >= since and now < last[0] + spec.quiet:
        return HeldBack(old, last[0], last[1], "still used")
    quiet_from = max(since, last[0]) if last is not None else since
    if now < quiet_from + spec.quiet:
        return HeldBack(
            old, None, "?", f"quiet_period {spec.quiet_period} runs until {stamp(quiet_from + spec.quiet)}"
        )
    if spec.require_new_secret_used and evidence.last(new.key_id) is None:
        return HeldBack(old, None, "?", f"the new secret {new.hint or '?'}... has not signed in yet")
    return f", unused for {spec.quiet_period}"


def decide_app(
    specs: Iterable[Secret],
    facts: AppFacts,
    now: datetime,
    *,
    force: bool = False,
) -> list[SecretDecision]:
    """Decide every declared secret of one app, then fit the mints into the app's secret limit."""
    if not facts.exists:
        return [
            SecretDecision(
                app=facts.name,
                name=s.name,
                expires_in=s.expires_in,
                current=None,
                mint_reason="missing",
                overlap=s.overlap_period,
            )
            for s in specs
        ]
    decisions = [decide_secret(spec, facts, now, force=force) for spec in specs]
    if facts.limit is None:
        return decisions
    return _fit_limit(decisions, facts, now)


def _fit_limit(decisions: list[SecretDecision], facts: AppFacts, now: datetime) -> list[SecretDecision]:
    """Make room for the mints: orphans go before the mint when needed; what still does not fit is blocked."""
    assert facts.limit is not None
    early = sum(1 for d in decisions for r in d.removals if r.phase == BEFORE_MINT)
    count = len(facts.secrets) - early
    out: list[SecretDecision] = []
    for decision in decisions:
        if decision.mint and count + 1 > facts.limit:
            removals = list(decision.removals)
            for i, removal in enumerate(removals):
                if count + 1 <= facts.limit:
                    break
                if removal.phase == AFTER_DELIVERY:
                    removals[i] = replace(removal, phase=BEFORE_MINT)
                    count -= 1
            decision = replace(decision, removals=tuple(removals))
        if decision.mint:
            if count + 1 > facts.limit:
                decision = replace(decision, blocked=_blocked_text(decision, facts, now))
            else:
                count += 1
        out.append(decision)
    return out


def _blocked_text(decision: SecretDecision, facts: AppFacts, now: datetime) -> str:
    retire = [w.retire_at for w in decision.waiting if w.retire_at is not None]
    when = (
        f"; the previous secret retires after {stamp(min(retire))}, run rotate again then" if retire else ""
    )
    return (
        f"{decision.mint_reason}, but the app already holds {len(facts.secrets)} secret(s) and apps that "
        f"personal Microsoft accounts sign in to allow {facts.limit}{when}"
    )


def days_left(end: datetime | None, now: datetime) -> int | None:
    """Whole days until ``end`` (negative once expired); None for a secret that never expires."""
    if end is None:
        return None
    return (end - now) // timedelta(days=1)


def held_by(key_id: str, holdings: Collection[tuple[str, Collection[str]]]) -> list[str]:
    """Descriptions of the sinks whose held keyIds include ``key_id``."""
    wanted = key_id.lower()
    return [sink for sink, ids in holdings if wanted in {i.lower() for i in ids}]
