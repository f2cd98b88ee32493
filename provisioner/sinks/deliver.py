"""Dispatch to the sink modules, and deliver one app's values to all of its sinks.

Every app has a default JSON sink, ``<base_dir>/.provisioner/connections/<app>.json``,
delivered *first*: it is the tool's own copy of a value Graph shows only once,
so a later sink failure never loses the value (the caller may retry delivery
instead of discarding the secret). Delivery stops at the first failure with
a :class:`PartialDeliveryError` naming the sinks that already hold the new
value, so the caller can remove the freshly minted secret from Entra (or
record it for removal) and restore the previous connection file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from provisioner.core.errors import SinkError
from provisioner.core.layout import default_sink_path, resolve_state_dir
from provisioner.model.manifest import App, DotenvSink, GithubSink, JsonSink, KeyVaultSink, Sink
from provisioner.sinks import dotenv_sink, github_sink, json_sink, keyvault_sink
from provisioner.sinks.common import DeliveryReceipt

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
    return JsonSink(
        type="json", path=str(default_sink_path(app.name, resolve_state_dir(base_dir, state_dir)))
    )


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
    raise TypeError(f"unknown sink {sink!r}")  # pragma: no cover - the model admits no other type


def deliver(
    sink: Sink,
    app: App,
    values: Mapping[str, Any],
    *,
    base_dir: PathLike | None = None,
    credential: Any | None = None,
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
    raise TypeError(f"unknown sink {sink!r}")  # pragma: no cover


def held_key_id(
    sink: Sink, app: App, *, base_dir: PathLike | None = None, credential: Any | None = None
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
    raise TypeError(f"unknown sink {sink!r}")  # pragma: no cover


def held_key_ids(
    app: App, base_dir: PathLike, *, state_dir: PathLike | None = None, credential: Any | None = None
) -> dict[str, str | None]:
    """Sink description -> held keyId, for every sink of ``app`` (default sink first)."""
    return {
        describe(sink, app, base_dir=base_dir): held_key_id(
            sink, app, base_dir=base_dir, credential=credential
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
) -> list[DeliveryReceipt]:
    """Deliver to the default sink, then to each manifest sink; stop at the first failure.

    Every delivery goes through here (apply, rotate, multi-tenant), so this is where the
    delivery journal (:mod:`provisioner.sinks.journal`) learns each keyId, before any sink
    sees it.
    """
    _journal(app, values, resolve_state_dir(base_dir, state_dir))
    receipts: list[DeliveryReceipt] = []
    for sink in all_sinks(app, base_dir, state_dir):
        try:
            receipts.append(deliver(sink, app, values, base_dir=base_dir, credential=credential))
        except SinkError as exc:
            raise PartialDeliveryError(exc, receipts, describe(sink, app, base_dir=base_dir)) from None
    return receipts


def _journal(app: App, values: Mapping[str, Any], state_dir: Path) -> None:
    """Record the keyIds about to be delivered and those the default file held until now.

    The default file's keyIds cover secrets delivered before the journal existed (an
    upgrade): once replaced they must still count as predecessors, not orphans.
    A journal that cannot be written stops the delivery: without the entry a later run
    would take the replaced secret for an orphan and remove it inside its overlap.
    """
    from provisioner.core.layout import journal_path
    from provisioner.model.connections import read_connection_file
    from provisioner.sinks.holdings import json_key_ids
    from provisioner.sinks.journal import record_delivery

    key_ids = set(json_key_ids(values))
    if not key_ids:
        return
    with contextlib.suppress(SinkError):  # an unreadable default file is overwritten by this delivery
        key_ids |= json_key_ids(read_connection_file(default_sink_path(app.name, state_dir)))
    try:
        record_delivery(app.name, sorted(key_ids), state_dir)
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
    wipe the value from that sink too. GitHub outputs are write-only and Key Vault
    needs a network round trip, so only JSON and dotenv sinks are consulted.
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
