"""Dispatch to the sink modules, and deliver one app's values to all of its sinks.

Every app has a default JSON sink, ``<base_dir>/.provisioner/connections/<app>.json``,
delivered *first*: it is the tool's own copy of a value Graph shows only once,
so a later sink failure never loses the value (the caller may retry delivery
instead of discarding the secret). Delivery stops at the first failure with
a :class:`PartialDeliveryError` naming the sinks that already hold the new
value, so the caller can remove the freshly minted secret from Entra (or
record it for removal) and restore the previous connection file.

:func:`preflight` answers, without writing anything, whether every sink of an app
could take a delivery right now, so a caller can refuse *before* minting a secret
that nobody would then hold; :func:`describe_destination` is the sink's place as
``plan`` lists it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from provisioner.core import settings
from provisioner.core.errors import SinkError
from provisioner.core.layout import TenantKey, current_tenant, default_sink_path, resolve_state_dir
from provisioner.model.connections import APPLICATION, SECRET_KEYS_BY_OWNER, SERVICE_PRINCIPAL
from provisioner.model.manifest import (
    App,
    DotenvSink,
    GithubSecretSink,
    GithubSink,
    JsonSink,
    KeyVaultSink,
    Sink,
    TemplateSink,
)
from provisioner.model.sink_rules import (
    bad_github_outputs,
    dotenv_names,
    flat_values,
    is_within,
    real_path,
    renamed,
    root_of,
    sample_values,
    shown_real,
)
from provisioner.sinks import (
    dotenv_sink,
    github_secret_sink,
    github_sink,
    json_sink,
    keyvault_sink,
    template_sink,
)
from provisioner.sinks.common import DeliveryReceipt, resolve_path, writable_problem

PathLike = str | os.PathLike[str]


class PartialDeliveryError(SinkError):
    """A sink failed; ``delivered`` lists the sinks that already got the values (in order)."""

    def __init__(self, cause: SinkError, delivered: list[DeliveryReceipt], failed: str) -> None:
        done = ", ".join(receipt.sink for receipt in delivered) or "none"
        super().__init__(f"{cause.message} (already delivered to: {done})")
        self.cause = cause
        self.delivered = delivered
        self.failed = failed


def default_sink(app: App, base_dir: PathLike, state_dir: PathLike | None = None) -> JsonSink:
    state = None if state_dir is None else os.fspath(state_dir)
    return _default_sink(app.name, os.fspath(base_dir), state, current_tenant(), os.getcwd())


@functools.lru_cache(maxsize=8192)
def _default_sink(
    name: str, base_dir: str, state_dir: str | None, tenant: TenantKey | None, cwd: str
) -> JsonSink:
    """One app's default sink, remembered: a run asks for it in every pass (checks, holdings,
    delivery). The key holds all it depends on, the selected tenant and the working directory
    included; the sink is a frozen model, so one instance serves every caller."""
    return JsonSink(type="json", path=str(default_sink_path(name, resolve_state_dir(base_dir, state_dir))))


def all_sinks(app: App, base_dir: PathLike, state_dir: PathLike | None = None) -> list[Sink]:
    """The default sink followed by the manifest's sinks, in delivery order."""
    return [default_sink(app, base_dir, state_dir), *app.sinks]


def describe(sink: Sink, app: App, *, base_dir: PathLike | None = None) -> str:
    match sink:
        case JsonSink():
            return json_sink.describe(sink, base_dir)
        case DotenvSink():
            return dotenv_sink.describe(sink, base_dir)
        case GithubSink():
            return github_sink.describe(sink)
        case KeyVaultSink():
            return keyvault_sink.describe(sink, app)
        case GithubSecretSink():
            return github_secret_sink.describe(sink, app)
        case TemplateSink():
            return template_sink.describe(sink, base_dir)
    raise TypeError(f"unknown sink {sink!r}")  # pragma: no cover - the model admits no other type


def deliver(
    sink: Sink,
    app: App,
    values: Mapping[str, Any],
    *,
    base_dir: PathLike | None = None,
    credential: Any | None = None,
    state_dir: PathLike | None = None,
) -> DeliveryReceipt:
    """Write ``values`` to one sink. Relative paths are taken from ``base_dir``; raises SinkError."""
    match sink:
        case JsonSink():
            return json_sink.deliver(sink, app, values, base_dir=base_dir)
        case DotenvSink():
            return dotenv_sink.deliver(sink, app, values, base_dir=base_dir)
        case GithubSink():
            return github_sink.deliver(sink, app, values)
        case KeyVaultSink():
            return keyvault_sink.deliver(sink, app, values, credential=credential)
        case GithubSecretSink():
            return github_secret_sink.deliver(sink, app, values)
        case TemplateSink():
            state = resolve_state_dir(base_dir or Path.cwd(), state_dir)
            return template_sink.deliver(sink, app, values, base_dir=base_dir, state_dir=state)
    raise TypeError(f"unknown sink {sink!r}")  # pragma: no cover


def held_key_id(
    sink: Sink,
    app: App,
    *,
    base_dir: PathLike | None = None,
    credential: Any | None = None,
    state_dir: PathLike | None = None,
) -> str | None:
    """The keyId of the secret whose value the sink holds now (None: no value, or a sink that keeps none)."""
    match sink:
        case JsonSink():
            return json_sink.held_key_id(sink, app, base_dir=base_dir)
        case DotenvSink():
            return dotenv_sink.held_key_id(sink, app, base_dir=base_dir)
        case GithubSink():
            return github_sink.held_key_id(sink, app)
        case KeyVaultSink():
            return keyvault_sink.held_key_id(sink, app, credential=credential)
        case GithubSecretSink():
            return github_secret_sink.held_key_id(sink, app)
        case TemplateSink():
            state = resolve_state_dir(base_dir or Path.cwd(), state_dir)
            return template_sink.held_key_id(sink, app, base_dir=base_dir, state_dir=state)
    raise TypeError(f"unknown sink {sink!r}")  # pragma: no cover


def held_key_ids(
    app: App, base_dir: PathLike, *, state_dir: PathLike | None = None, credential: Any | None = None
) -> dict[str, str | None]:
    """Sink description -> held keyId, for every sink of ``app`` (default sink first)."""
    return {
        describe(sink, app, base_dir=base_dir): held_key_id(
            sink, app, base_dir=base_dir, credential=credential, state_dir=state_dir
        )
        for sink in all_sinks(app, base_dir, state_dir)
    }


def deliver_all(
    app: App,
    values: Mapping[str, Any],
    base_dir: PathLike,
    *,
    state_dir: PathLike | None = None,
    credential: Any | None = None,
    journal: bool = True,
) -> list[DeliveryReceipt]:
    """Deliver to the default sink, then to each manifest sink; stop at the first failure.

    Every delivery goes through here (apply, rotate, multi-tenant), so this is where the
    delivery journal (:mod:`provisioner.sinks.journal`) learns each keyId, before any sink
    sees it. ``journal=False`` is for a caller that already journaled this delivery's keyIds
    for the whole run in one write (:func:`journal_deliveries`): one journal write per app
    would rewrite the whole file once per app, quadratic in the number of apps.
    """
    if journal:
        _journal(app, values, resolve_state_dir(base_dir, state_dir))
    receipts: list[DeliveryReceipt] = []
    for sink in all_sinks(app, base_dir, state_dir):
        try:
            receipts.append(
                deliver(sink, app, values, base_dir=base_dir, credential=credential, state_dir=state_dir)
            )
        except SinkError as exc:
            raise PartialDeliveryError(exc, receipts, describe(sink, app, base_dir=base_dir)) from None
    return receipts


def _journal(app: App, values: Mapping[str, Any], state_dir: Path) -> None:
    """Record the keyIds about to be delivered for one app (see :func:`journal_deliveries`)."""
    try:
        on_disk = read_default_file(app, state_dir)
    except SinkError:  # an unreadable default file is overwritten by this delivery
        on_disk = None
    journal_deliveries({app.name: journal_key_ids(values, on_disk)}, state_dir)


def read_default_file(app: App, state_dir: Path) -> dict[str, Any] | None:
    from provisioner.model.connections import read_connection_file

    return read_connection_file(default_sink_path(app.name, state_dir))


def journal_key_ids(values: Mapping[str, Any], on_disk: Mapping[str, Any] | None) -> frozenset[str]:
    """The keyIds to journal before delivering ``values``: theirs and those the default file held until now.

    The default file's keyIds cover secrets delivered before the journal existed (an
    upgrade): once replaced they must still count as predecessors, not orphans. Empty when
    ``values`` carry no secret (nothing to journal).
    """
    from provisioner.sinks.holdings import json_key_ids

    key_ids = json_key_ids(values)
    return key_ids | json_key_ids(on_disk) if key_ids else frozenset()


def journal_deliveries(key_ids: Mapping[str, Collection[str]], state_dir: Path) -> None:
    """Journal every app's keyIds about to be delivered in this run, in one write, before any sink.

    Write-ahead for the whole run: a keyId some sink may hold is always in the journal, so
    the journal may say too much (an app whose delivery then fails or never happens: harmless,
    the policy keeps that secret until ``overlap``), never too little. A journal that cannot
    be written stops every delivery: without the entry a later run would take the replaced
    secret for an orphan and remove it inside its overlap.
    """
    from provisioner.core.layout import journal_path
    from provisioner.sinks.journal import record

    wanted = {app: sorted(keys) for app, keys in key_ids.items() if keys}
    if not wanted:
        return
    try:
        record(state_dir, deliveries=wanted)
    except OSError as exc:
        cause = SinkError(
            f"cannot write the delivery journal {journal_path(state_dir)}: {exc.strerror or type(exc).__name__}"
        )
        raise PartialDeliveryError(cause, [], "delivery journal") from None


def recover_secret(
    app: App, base_dir: PathLike, *, state_dir: PathLike | None = None, live_key_ids: Collection[str]
) -> dict[str, Any] | None:
    """Secret fields of a live secret that some file sink still holds, or None.

    The default connection file is where a run normally finds the value it cannot
    read back from Graph; when that file is gone (a fresh checkout, a cleaned state
    dir) but a manifest sink still holds a live value, delivering without it would
    wipe the value from that sink too. GitHub outputs and secrets are write-only and Key
    Vault needs a network round trip, so only JSON and dotenv sinks are consulted.
    """
    for sink in all_sinks(app, base_dir, state_dir):
        match sink:
            case JsonSink():
                held = json_sink.held_secret(sink, app, base_dir=base_dir)
            case DotenvSink():
                held = dotenv_sink.held_secret(sink, app, base_dir=base_dir)
            case _:
                continue
        if held and held.get("client_secret_id") in live_key_ids:
            return held
    return None


def describe_destination(sink: Sink, app: App, base_dir: PathLike | None) -> str:
    """One line for ``plan``: the sink's kind and where it writes, relative to ``base_dir`` when inside it.

    File sinks show their real path (``..`` collapsed, symlinks followed) and say when it is
    outside the base folder (only possible with ``allow_outside: true``) or replaces a file the
    tool did not write (``overwrite: true``); the dotenv dialect is shown when it is not the default.
    """
    match sink:
        case JsonSink() | DotenvSink():
            kind = "json file" if isinstance(sink, JsonSink) else "dotenv file"
            notes: list[str] = []
            if isinstance(sink, DotenvSink):
                if sink.prefix:
                    notes.append(f"prefix {sink.prefix}")
                if sink.dialect != "portable":
                    notes.append(f"dialect {sink.dialect}")
            if sink.rename:
                notes.append(f"{len(sink.rename)} renamed")
            shown, outside = _place(sink.path, base_dir)
            if outside:
                notes.append("outside the base folder")
            if sink.overwrite:
                notes.append("overwrite")
            more = f" ({', '.join(notes)})" if notes else ""
            return f"{kind} {shown}{more}"
        case GithubSink():
            return f"GitHub Actions outputs{f' (prefix {sink.prefix})' if sink.prefix else ''}"
        case KeyVaultSink():
            return keyvault_sink.describe(sink, app)
        case GithubSecretSink():
            return github_secret_sink.describe_destination(sink, app)
        case TemplateSink():
            shown, outside = _place(sink.path, base_dir)
            notes = [
                n for n, on in (("outside the base folder", outside), ("overwrite", sink.overwrite)) if on
            ]
            more = f" ({', '.join(notes)})" if notes else ""
            return f"template file {shown}{more}"
    raise TypeError(f"unknown sink {sink!r}")  # pragma: no cover


def _place(path: str, base_dir: PathLike | None) -> tuple[str, bool]:
    """A file sink's path as ``plan`` shows it, and whether it is outside the base folder.

    Both from one resolution of the path and of the base folder.
    """
    real, root = real_path(path, base_dir), root_of(base_dir)
    return shown_real(real, root), not is_within(real, root)


def _path_rules(
    sink: JsonSink | DotenvSink | TemplateSink, base_dir: Path, state: Path, add: Callable[[str], None]
) -> None:
    """Where a file sink of the manifest may write: inside the base folder (unless it says
    ``allow_outside``), never inside the state folder."""
    real, root = real_path(sink.path, base_dir), root_of(base_dir)
    if not sink.allow_outside and not is_within(real, root):
        add(f"{real} is outside {root}; set allow_outside: true on the sink to allow it")
    if is_within(real, root_of(state)):
        add(f"the path is inside the state folder {state}, which holds the tool's own files")


def preflight(
    app: App,
    base_dir: Path,
    state_dir: Path | None = None,
    *,
    values: Mapping[str, Any] | None = None,
) -> list[SinkError]:
    """Every reason a delivery to ``app``'s sinks (default connection file first) would fail locally.

    Checked without writing anything: the path resolves (not empty, not a folder, not inside the
    state dir unless it is the default file, inside ``base_dir`` unless ``allow_outside``), the
    parent folder exists or can be created, an existing file is readable, parses (JSON; dotenv
    blocks with their end markers), was written by this tool (or the sink says ``overwrite``) and
    is writable, and the values can be spelled in the sink's format. ``values``: the connection
    values about to be delivered if the caller has them (a secret need not be among them); else
    the ones the manifest alone decides are checked. Key Vault: the optional extra is installed;
    GitHub: ``$GITHUB_OUTPUT`` is set and its folder writable. GitHub secrets: a token is set, the
    names are valid, and GitHub answers (environment exists, public key and variables readable). One SinkError per problem, each one
    line naming the app and the sink and never a value.
    """
    state = resolve_state_dir(base_dir, state_dir)
    problems: list[SinkError] = []
    seen: set[str] = set()
    # The default connection file takes any values; only the manifest's own sinks need a sample.
    sample = dict(values) if values is not None else sample_values(app) if app.sinks else {}
    for index, sink in enumerate(all_sinks(app, base_dir, state_dir)):
        is_default = index == 0
        where = "default connection file" if is_default else f"sink {index}"
        try:
            label = describe(sink, app, base_dir=base_dir)
        except SinkError as exc:
            problems.append(SinkError(f"app {app.name!r}: {where}: {exc.message}"))
            continue

        def add(message: str, *, label: str = label, where: str = where) -> None:
            line = f"app {app.name!r}: {where} ({label}): {message}"
            if line not in seen:
                seen.add(line)
                problems.append(SinkError(line))

        try:
            match sink:
                case JsonSink() | DotenvSink():
                    _preflight_file(sink, app, base_dir, state, sample, is_default=is_default, add=add)
                case TemplateSink():
                    _preflight_template(sink, app, base_dir, state, sample, add=add)
                case KeyVaultSink():
                    if keyvault_sink.extra_missing():
                        add("needs the optional extra; install provisioner[keyvault]")
                case GithubSecretSink():
                    github_secret_sink.preflight(sink, app, sample, add)
                case GithubSink():
                    for name in bad_github_outputs(sample, sink.prefix):
                        add(f"{name!r} is not a valid GitHub Actions output name")
                    output = settings.env(settings.GITHUB_OUTPUT)
                    if not output:
                        add("$GITHUB_OUTPUT is not set (it is only set inside a GitHub Actions step)")
                    else:
                        trouble = writable_problem(Path(output))
                        if trouble:
                            add(f"$GITHUB_OUTPUT cannot be appended to: {trouble}")
        except SinkError as exc:
            add(_without_app(exc.message, app))
        except OSError as exc:  # anything the file system says that the checks above did not foresee
            add(exc.strerror or type(exc).__name__)
    return problems


def _preflight_template(
    sink: TemplateSink,
    app: App,
    base_dir: Path,
    state: Path,
    values: Mapping[str, Any],
    *,
    add: Callable[[str], None],
) -> None:
    """The template sink's checks: path rules, a readable template naming known values, the file ours."""
    path = resolve_path(sink.path, base_dir)
    _path_rules(sink, base_dir, state, add)
    try:
        text = template_sink.template_text(sink, base_dir)
        known = dict(flat_values(values))
        # the values of a run that mints nothing may come without the secret fields
        for declared, keys in ((app.secrets, APPLICATION), (app.sp_secrets, SERVICE_PRINCIPAL)):
            if declared:
                known.update(dict.fromkeys(SECRET_KEYS_BY_OWNER[keys].current, ""))
        for problem in template_sink.template_problems(text, known):
            add(problem)
        template_sink.check_existing(sink, app, path, state)
    except SinkError as exc:
        add(_without_app(exc.message, app))
    trouble = writable_problem(path)
    if trouble:
        add(f"cannot write {path}: {trouble}")


def _without_app(message: str, app: App) -> str:
    return message.removeprefix(f"app {app.name!r}: ")


def _preflight_file(
    sink: JsonSink | DotenvSink,
    app: App,
    base_dir: Path,
    state: Path,
    values: Mapping[str, Any],
    *,
    is_default: bool,
    add: Callable[[str], None],
) -> None:
    """The checks of one file sink; each problem goes to ``add`` (several per sink are possible)."""
    path = resolve_path(sink.path, base_dir)
    if not is_default:
        _path_rules(sink, base_dir, state, add)
    trouble = writable_problem(path)
    if trouble and any(parent.exists() and not parent.is_dir() for parent in path.parents):
        add(f"cannot write {path}: {trouble}")  # a file where a folder must be: nothing more to read
        return
    try:
        if is_default:
            from provisioner.model.connections import read_connection_file

            read_connection_file(path)  # SinkError when unreadable or not a JSON object
        elif isinstance(sink, JsonSink):
            json_sink.check_existing(sink, app, path)
            renamed(values, sink.rename)  # SinkError when a tenant-made value meets a renamed key
    except SinkError as exc:
        add(_without_app(exc.message, app))
    if isinstance(sink, DotenvSink):
        for reason_text in dotenv_sink.problems(app, values, sink.prefix, sink.dialect, sink.rename):
            add(_without_app(reason_text, app))
        names = set(dotenv_names(app, values, sink.prefix, sink.rename))
        try:
            dotenv_sink.inspect(sink, app, path, names)
        except SinkError as exc:
            add(_without_app(exc.message, app))
    if trouble:
        add(f"cannot write {path}: {trouble}")
