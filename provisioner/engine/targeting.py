"""Which tenant, which cloud, which credential: resolved from CLI options and the environment.

Kept apart from the CLI so tests and other entry points resolve targets the same way.
The embedded emulator is imported here only when ``--emulator`` is given (the one
place outside tests that may import ``provisioner.emulator``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from provisioner.core import settings
from provisioner.core.errors import ProvisionerError
from provisioner.core.fileio import atomic_write_text
from provisioner.graph.target import CLOUDS, Target, target_for_cloud, target_from_emulator


@contextmanager
def open_target(*, emulator: bool, tenant: str | None, cloud: str, state_dir: Path) -> Iterator[object]:
    """Yield a ``provisioner.graph.target.Target`` for this run.

    With ``emulator``, start the embedded emulator in-process; its state lives in
    ``state_dir/emulator.db`` so a second run sees what the first one created.
    Without it, a ``PROVISIONER_GRAPH_URL`` in the environment (as printed by
    ``provisioner emulator serve``) points at a separately running emulator;
    otherwise the public (or national) cloud with DefaultAzureCredential.
    """
    if cloud not in CLOUDS:
        raise ProvisionerError(f"unknown cloud {cloud!r}: choose one of {', '.join(CLOUDS)}")
    if emulator:
        with start_embedded_emulator(state_dir, tenant) as running:
            yield target_from_emulator(running)
        return
    graph_url = settings.env(settings.GRAPH_URL)
    if graph_url:
        yield Target(
            tenant_id=tenant or settings.env(settings.AZURE_TENANT_ID),
            graph_url=graph_url.rstrip("/"),
            authority_host=(settings.env(settings.AZURE_AUTHORITY_HOST) or "").rstrip("/")
            or graph_url.rsplit("/v1.0", 1)[0],
            ca_cert_path=settings.env(settings.CA_CERT),
            client_id=settings.env(settings.AZURE_CLIENT_ID),
            client_secret=settings.env(settings.AZURE_CLIENT_SECRET),
        )
        return
    tenant_id = tenant or settings.env(settings.AZURE_TENANT_ID)
    yield target_for_cloud(cloud, tenant_id)


@contextmanager
def open_emulator(state_dir: Path) -> Iterator[object]:
    """The embedded emulator for a multi-tenant ``--emulator`` run (state in ``state_dir/emulator.db``).

    One emulator hosts every tenant of the run; :func:`emulator_tenant_target`
    creates (once) and addresses each of them.
    """
    with start_embedded_emulator(state_dir) as running:
        yield running


def emulator_tenant_target(running: object, tenant_id: str) -> object:
    """A Target for one tenant of a running emulator, created on first use, as its bootstrap admin."""
    from provisioner.emulator.seed import ensure_tenant

    info = ensure_tenant(running.ctx, tenant_id)  # type: ignore[attr-defined]
    return Target(
        tenant_id=info.tenant_id,
        graph_url=running.graph_url,  # type: ignore[attr-defined]
        authority_host=running.authority,  # type: ignore[attr-defined]
        ca_cert_path=str(running.ca_cert_path),  # type: ignore[attr-defined]
        client_id=info.admin_client_id,
        client_secret=info.admin_client_secret,
    )


def emulator_endpoint_from_env() -> dict[str, str | None] | None:
    """A separately running emulator (``provisioner emulator serve``) named by the environment, if any."""
    graph_url = settings.env(settings.GRAPH_URL)
    if not graph_url:
        return None
    return {
        "graph_url": graph_url.rstrip("/"),
        "authority_host": (settings.env(settings.AZURE_AUTHORITY_HOST) or "").rstrip("/")
        or graph_url.rstrip("/").rsplit("/v1.0", 1)[0],
        "ca_cert_path": settings.env(settings.CA_CERT),
    }


def start_embedded_emulator(state_dir: Path, tenant_id: str | None = None) -> Any:
    """Start the ``--emulator`` emulator on the port it had last time in this state dir.

    Connection files record the authority and Graph URLs; a new random port per run
    would make every run rewrite them (and leave stale URLs behind). The port is kept
    in ``state_dir/emulator.port``; when it is taken (another run is using it), any
    free port will do and becomes the new remembered one.
    """
    from provisioner.emulator.errors import EmulatorError
    from provisioner.emulator.server import start_emulator

    port_file = state_dir / "emulator.port"
    try:
        port = int(port_file.read_text().strip())
    except (OSError, ValueError):
        port = 0
    state_path = state_dir / "emulator.db"
    try:
        try:
            running = start_emulator(port=port, state_path=state_path, tenant_id=tenant_id)
        except EmulatorError:
            if port == 0:
                raise
            running = start_emulator(port=0, state_path=state_path, tenant_id=tenant_id)
    except EmulatorError as exc:  # the emulator's own error type becomes the tool's one-line error
        raise ProvisionerError(f"the embedded emulator could not start: {exc}") from None
    if running.port != port:
        atomic_write_text(port_file, f"{running.port}\n")
    return running
