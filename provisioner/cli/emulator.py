"""`provisioner emulator serve`: the local Graph + identity emulator."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated

import typer

from provisioner.cli._base import (
    JsonOpt,
    emulator_app,
    handles_errors,
)
from provisioner.core import settings
from provisioner.core.errors import ProvisionerError
from provisioner.core.text import printable


@emulator_app.command("serve")
@handles_errors
def emulator_serve(
    host: Annotated[str, typer.Option(help="Address to bind (loopback).")] = "127.0.0.1",
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow a non-loopback --host (prints a warning).")
    ] = False,
    port: Annotated[int, typer.Option(help="HTTPS port (0 picks a free one).")] = 8443,
    state: Annotated[Path | None, typer.Option(help="SQLite file to persist state across restarts.")] = None,
    tenant_id: Annotated[str | None, typer.Option("--tenant-id", help="Tenant ID to create (UUID).")] = None,
    json_output: JsonOpt = False,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="Also write the exports (or the --json object) to this file, in one step, once serving "
            "(mode 0600): source it as soon as it exists.",
        ),
    ] = None,
    latency_ms: Annotated[int, typer.Option("--latency-ms", help="Fault: delay every Graph request.")] = 0,
    throttle_rate: Annotated[
        float,
        typer.Option("--throttle-rate", help="Fault: requests per second per caller (appid) before 429."),
    ] = 0.0,
    throttle_burst: Annotated[
        int, typer.Option("--throttle-burst", help="Fault: token-bucket size (default: the rate).")
    ] = 0,
    throttle_probability: Annotated[
        float, typer.Option("--throttle-probability", help="Fault: fraction of requests throttled at random.")
    ] = 0.0,
    error_rate: Annotated[
        float, typer.Option("--error-rate", help="Fault: fraction of Graph requests answered 503.")
    ] = 0.0,
    timeout_rate: Annotated[
        float, typer.Option("--timeout-rate", help="Fault: fraction of Graph requests answered 504.")
    ] = 0.0,
    retry_after: Annotated[
        float, typer.Option("--retry-after", help="Fault: Retry-After seconds sent with random 429/5xx.")
    ] = 1.0,
    replication_lag_ms: Annotated[
        int, typer.Option("--replication-lag-ms", help="Fault: new objects invisible to lookups for N ms.")
    ] = 0,
    fault_seed: Annotated[
        int | None, typer.Option("--fault-seed", help="Fault: random seed, to replay a run.")
    ] = None,
    fault_identity: Annotated[
        bool, typer.Option("--fault-identity", help="Fault: also fault the token endpoint.")
    ] = False,
    log_requests: Annotated[
        bool,
        typer.Option("--log-requests", help="One line per request on stderr: method, path, status, ms."),
    ] = False,
) -> None:
    """Serve the emulator over HTTPS and print what a client needs to reach it."""
    # A server lives for hours: unlike a command (see provisioner.cli), its cyclic garbage must be
    # collected; less often than Python's default, as its heap is large and mostly long-lived.
    gc.set_threshold(50_000, 20, 20)
    gc.enable()
    from provisioner.emulator.errors import EmulatorError
    from provisioner.emulator.faults import FaultConfig
    from provisioner.emulator.server import serve

    try:
        faults = FaultConfig.from_json(
            {
                "latency_ms": latency_ms,
                "throttle_rate_per_s": throttle_rate,
                "throttle_burst": throttle_burst,
                "throttle_probability": throttle_probability,
                "error_rate": error_rate,
                "timeout_rate": timeout_rate,
                "retry_after_s": retry_after,
                "replication_lag_ms": replication_lag_ms,
                "seed": fault_seed,
                "include_identity": fault_identity,
            }
        )
    except ValueError as exc:
        raise ProvisionerError(f"invalid fault option: {exc}") from None
    try:
        serve(
            host=host,
            port=port,
            state_path=state,
            tenant_id=tenant_id,
            json_output=json_output,
            faults=faults,
            allow_remote=allow_remote,
            log_requests=log_requests,
            env_file=env_file,
        )
    except EmulatorError as exc:  # the emulator's own error type: one CLI error line, exit code 1
        raise ProvisionerError(str(exc)) from None


@emulator_app.command("az-setup")
@handles_errors
def emulator_az_setup(
    url: Annotated[
        str | None,
        typer.Option(help="Emulator base URL (printed by serve).", envvar=settings.AZURE_AUTHORITY_HOST),
    ] = None,
    ca_cert: Annotated[
        Path | None, typer.Option("--ca-cert", help="The emulator's CA certificate.", envvar=settings.CA_CERT)
    ] = None,
    tenant_id: Annotated[
        str | None, typer.Option("--tenant-id", help="Tenant to sign in to.", envvar=settings.AZURE_TENANT_ID)
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", help="Service principal to sign in as.", envvar=settings.AZURE_CLIENT_ID),
    ] = None,
    config_dir: Annotated[
        Path, typer.Option("--config-dir", help="AZURE_CONFIG_DIR for az (kept apart from ~/.azure).")
    ] = Path(".provisioner/azure-cli"),
    cloud_name: Annotated[
        str, typer.Option("--cloud-name", help="Name of the custom cloud.")
    ] = "ProvisionerEmulator",
    run: Annotated[
        bool, typer.Option("--run", help="Run the steps with az (secret from $AZURE_CLIENT_SECRET).")
    ] = False,
    az: Annotated[str, typer.Option("--az", help="The az executable for --run.")] = "az",
) -> None:
    """Print (or --run) the steps that point the unmodified Azure CLI at a running emulator."""
    from provisioner.emulator.arm.az_setup import AzSetup
    from provisioner.emulator.arm.az_setup import run as run_steps
    from provisioner.emulator.errors import EmulatorError

    missing = [
        name
        for name, value in (
            ("--url (or AZURE_AUTHORITY_HOST)", url),
            ("--ca-cert (or PROVISIONER_CA_CERT)", ca_cert),
            ("--tenant-id (or AZURE_TENANT_ID)", tenant_id),
            ("--client-id (or AZURE_CLIENT_ID)", client_id),
        )
        if not value
    ]
    if missing:
        raise ProvisionerError(
            f"az-setup needs {', '.join(missing)}: run it in the shell where you evaluated the exports"
            " `provisioner emulator serve` printed"
        )
    assert url and ca_cert and tenant_id and client_id
    setup = AzSetup(
        url=url,
        ca_cert=ca_cert.absolute(),
        tenant_id=tenant_id,
        client_id=client_id,
        config_dir=config_dir.absolute(),
        cloud_name=cloud_name,
    )
    if not run:
        typer.echo(setup.script(), nl=False)
        return
    secret = settings.env(settings.AZURE_CLIENT_SECRET)
    if not secret:
        raise ProvisionerError("az-setup --run needs the client secret in AZURE_CLIENT_SECRET")
    try:
        run_steps(setup, az=az, secret=secret, report=typer.echo)
    except (EmulatorError, OSError) as exc:
        raise ProvisionerError(printable(str(exc))) from None
    typer.echo(f"az is signed in to the emulator; use it with AZURE_CONFIG_DIR={setup.config_dir}")
