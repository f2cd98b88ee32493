"""`provisioner authorize`: get a delegated access + refresh token into a token file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from provisioner.cli._base import EmulatorOpt, Paths, StateDirOpt, app, emit_json, handles_errors, say


class Prompt(StrEnum):
    login = "login"
    consent = "consent"


@app.command()
@handles_errors
def authorize(
    paths: Paths,
    app_name: Annotated[
        str | None, typer.Option("--app", help="App to authorize (needed if several).")
    ] = None,
    redirect_port: Annotated[
        int | None,
        typer.Option(
            "--redirect-port",
            min=0,
            max=65535,
            help="Port for the loopback redirect (default: the registered one; 0 = any free port).",
        ),
    ] = None,
    no_browser: Annotated[
        bool,
        typer.Option("--no-browser", help="Print the sign-in URL (stderr) instead of opening a browser."),
    ] = False,
    prompt: Annotated[Prompt | None, typer.Option("--prompt", help="Force sign-in or consent.")] = None,
    login_hint: Annotated[
        str | None, typer.Option("--login-hint", help="Account to sign in with (use a service account).")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for the sign-in to finish.")
    ] = 300.0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Token file (default: <state-dir>/tokens/<app>.json).")
    ] = None,
    emulator: EmulatorOpt = False,
    state_dir: StateDirOpt = Path(".provisioner"),
) -> None:
    """Sign in (authorization code + PKCE) and write the access/refresh token file (mode 0600)."""
    from provisioner.engine.targeting import open_target
    from provisioner.manifest import validate_paths
    from provisioner.oauth.authorize_flow import run_authorize, select_app
    from provisioner.oauth.client_config import load_client_config
    from provisioner.oauth.loopback import choose_redirect
    from provisioner.oauth.token_file import default_token_path

    result = validate_paths([str(p) for p in paths])
    result.raise_for_errors()
    loaded = select_app(result.apps, app_name, command="authorize")
    # Fail on a manifest without a loopback redirect URI before touching any tenant.
    choose_redirect(loaded, confidential=bool(loaded.app.secrets))

    def note(message: str) -> None:
        say(message, err=True, prefix="note: ")

    def open_url(url: str) -> None:
        if no_browser:
            typer.echo("Open this URL in a browser to sign in:", err=True)
            say(url, err=True)
            return
        from provisioner.oauth.browser import open_in_browser

        typer.echo("Opening a browser to sign in. If none opens, visit:", err=True)
        say(url, err=True)
        if not open_in_browser(url):
            note("could not start a browser; open the URL above yourself")

    with open_target(emulator=emulator, tenant=None, cloud="public", state_dir=state_dir) as target:
        config = load_client_config(state_dir, loaded.app.name, target=target)
        outcome = run_authorize(
            loaded,
            config,
            token_path=out or default_token_path(state_dir, loaded.app.name),
            open_url=open_url,
            redirect_port=redirect_port,
            prompt=prompt.value if prompt else None,
            login_hint=login_hint,
            timeout=timeout,
            notice=note,
        )
    payload = outcome.to_dict()
    if loaded.app.token_sinks:
        from provisioner.engine.token_delivery import deliver_tokens
        from provisioner.oauth.token_file import read_token_file

        tokens = read_token_file(outcome.token_file) or {}
        payload["delivered_to"] = deliver_tokens(loaded, tokens, base_dir=Path.cwd(), state_dir=state_dir)
    emit_json(payload)
