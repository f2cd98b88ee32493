"""Shared pieces of every command: the Typer apps, common options, and error handling.

Exit codes are :class:`provisioner.core.errors.ExitCode` (documented in README "Exit codes").
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from provisioner.core import settings
from provisioner.core.errors import ExitCode, ProvisionerError
from provisioner.core.text import printable
from provisioner.engine.options import RunOptions

app = typer.Typer(
    name="provisioner",
    help="Infrastructure-as-code for Microsoft Entra ID app registrations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
emulator_app = typer.Typer(help="Local Microsoft Graph + identity platform emulator.", no_args_is_help=True)
app.add_typer(emulator_app, name="emulator")


def _print_version(value: bool) -> None:
    if value:
        from provisioner import __version__

        typer.echo(f"provisioner {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    """Infrastructure-as-code for Microsoft Entra ID app registrations."""


F = TypeVar("F", bound=Callable[..., Any])

Paths = Annotated[
    list[Path], typer.Argument(help="Manifest files or folders.", show_default=False, metavar="PATH")
]
EmulatorOpt = Annotated[
    bool, typer.Option("--emulator", help="Run against the embedded emulator (state under --state-dir).")
]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="Tenant ID (default: AZURE_TENANT_ID or the credential's).")
]
CloudOpt = Annotated[str, typer.Option("--cloud", help="public, usgov or china.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
StateDirOpt = Annotated[
    Path,
    typer.Option("--state-dir", envvar=settings.STATE_DIR, help="Where connections and emulator state live."),
]
PruneOpt = Annotated[
    bool,
    typer.Option(
        "--prune",
        help="Also delete (plan: list) apps tagged provisioner:managed that none of the given manifests "
        "declares. Pass all of the tenant's manifests.",
    ),
]
AppsOpt = Annotated[
    list[str] | None, typer.Option("--app", help="Only this app (repeatable).", show_default=False)
]
TenantsOpt = Annotated[
    Path | None,
    typer.Option(
        "--tenants",
        help="YAML file naming several target tenants and their credentials; runs them concurrently.",
        show_default=False,
    ),
]


#: Version of the ``--json`` document shape; bumped when a key is removed or changes meaning.
JSON_SCHEMA_VERSION = 1


def emit_json(payload: dict[str, Any]) -> None:
    """Print one ``--json`` document on stdout, versioned (every command's JSON goes through here)."""
    typer.echo(json.dumps({"schema_version": JSON_SCHEMA_VERSION, **payload}, indent=2))


def printable_lines(message: str) -> list[str]:
    """``message`` split on newlines only, each line with its control and bidi characters escaped.

    ``str.splitlines`` would also split on CR, U+2028, U+0085 ...: a name holding one would
    start a line of its own ("error: ..." faked by a display name). Splitting on ``\n`` and
    escaping the rest keeps every printed line the tool's own.
    """
    return [printable(line, one_line=True) for line in message.split("\n")]


def say(message: str, *, err: bool = False, prefix: str = "") -> None:
    """Print a message that may carry manifest, tenant or server text: escaped, line by line."""
    for line in printable_lines(message):
        typer.echo(f"{prefix}{line}", err=err)


def report_tenants(
    outcome: Any, json_output: bool, show: Callable[[], None], *, show_secrets: bool = False
) -> None:
    """A ``--tenants`` run's report: warnings on stderr, then one JSON document or a section per tenant."""
    for warning in outcome.warnings:
        print_warning(str(warning))
    if json_output:
        emit_json(outcome.to_dict(show_secrets=show_secrets))
    else:
        show()


def print_error(message: str) -> None:
    say(message, err=True, prefix="error: ")


def print_warning(message: str) -> None:
    say(message, err=True, prefix="warning: ")


def handles_errors(fn: F) -> F:
    """Turn typed errors into one line each on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ProvisionerError as exc:
            print_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            print_error("interrupted")
            raise typer.Exit(ExitCode.INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


def reject_tenant_with_tenants(tenant: str | None) -> None:
    """``--tenant`` and ``--tenants`` both name the target; one run takes one of them."""
    if tenant:
        raise ProvisionerError(
            "--tenant and --tenants exclude each other (the tenants file names the tenants)"
        )


def _interactive() -> bool:
    import sys

    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):  # a closed stdin
        return False


def confirmed(yes: bool) -> bool:
    """Go ahead with ``--yes`` or without a terminal (CI, cron); otherwise ask for a literal 'yes'.

    Only for changes that delete nothing: deletions go through :func:`require_consent_to_delete` first.
    """
    from provisioner.views.render import confirm_plan

    return yes or not _interactive() or confirm_plan()


def require_consent_to_delete(yes: bool, what: str) -> None:
    """Refuse a deleting run (destroy, --purge, apply --prune) that has nobody to ask and no ``--yes``.

    ``what`` says what the command would delete ("destroy deletes applications").

    Without a terminal (cron, CI, a pipe) :func:`confirmed` goes ahead, which is right for
    converging changes but not for deletions: a ``destroy --purge`` in a pipeline would delete
    for good without anyone agreeing. Called before anything is read or written, so a refused
    run changes nothing (no Graph call, no state directory).
    """
    if yes or _interactive():
        return
    raise ProvisionerError(
        f"{what}, and there is no terminal to ask for confirmation (stdin is not a TTY): "
        "pass --yes to go ahead; nothing was changed"
    )


def run_options(
    paths: list[Path] | None = None,
    *,
    emulator: bool = False,
    tenant: str | None = None,
    cloud: str = "public",
    state_dir: Path = Path(".provisioner"),
    tenants: Path | None = None,
    prune: bool = False,
    apps: list[str] | None = None,
    force: bool = False,
) -> RunOptions:
    """The engine's options object from the common flags (``--tenant`` and ``--tenants`` exclude each other)."""
    if tenants is not None:
        reject_tenant_with_tenants(tenant)
    if prune and apps:
        # --prune deletes every managed app the run does not declare: with --app that would be the rest
        raise ProvisionerError("--prune and --app exclude each other (prune needs every declared app)")
    return RunOptions(
        paths=tuple(str(p) for p in paths or ()),
        state_dir=state_dir,
        emulator=emulator,
        tenant=tenant,
        tenants_file=tenants,
        cloud=cloud,
        prune=prune,
        apps=tuple(apps or ()),
        force=force,
    )


WebhookOpt = Annotated[
    str | None,
    typer.Option(
        "--webhook",
        envvar=settings.WEBHOOK_URL,
        help="Post alerts (window entered, rotated, still used, expiring) to this URL; never blocks the run.",
        show_default=False,
    ),
]
WebhookFormatOpt = Annotated[
    str,
    typer.Option("--webhook-format", envvar=settings.WEBHOOK_FORMAT, help="generic (JSON), teams or slack."),
]
AlertDaysOpt = Annotated[
    int, typer.Option("--alert-days", min=0, help="Alert when a secret expires within this many days.")
]


def send_alerts(kind: str, outcome: Any, url: str | None, fmt: str, days: int) -> None:
    """Post ``status``/``rotate`` alerts; a failure is one warning line (the URL is never printed)."""
    if not url:
        return
    from provisioner.engine import alerts

    if fmt not in alerts.FORMATS:
        print_error(f"--webhook-format must be one of {', '.join(alerts.FORMATS)}, not {fmt!r}")
        raise typer.Exit(1)
    found = (alerts.rotate_alerts if kind == "rotate" else alerts.status_alerts)(outcome, expiring_days=days)
    problem = alerts.post(url, fmt, found, verify=_verify())
    if problem:
        print_warning(problem)


def _verify() -> Any:
    """The emulator's CA (PROVISIONER_CA_CERT) when set, else the system's trust store."""
    import os

    return os.environ.get(settings.CA_CERT) or True
