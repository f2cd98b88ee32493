"""`provisioner validate`: offline manifest checks."""

from __future__ import annotations

import typer

from provisioner.cli._base import (
    JsonOpt,
    Paths,
    app,
    emit_json,
    handles_errors,
    print_error,
    print_warning,
)
from provisioner.core.errors import ExitCode


@app.command()
@handles_errors
def validate(paths: Paths, json_output: JsonOpt = False) -> None:
    """Check manifests offline (no credentials): keys, types, durations, redirect URIs, permission names."""
    from provisioner.manifest import validate_paths

    result = validate_paths([str(p) for p in paths])
    for warning in result.warnings:
        print_warning(str(warning))
    if json_output:
        emit_json(
            {
                "valid": not result.errors,
                "apps": [loaded.app.name for loaded in result.apps],
                "errors": [str(e) for e in result.errors],
                "warnings": [str(w) for w in result.warnings],
            }
        )
    if result.errors:
        for error in result.errors:
            print_error(str(error))
        raise typer.Exit(ExitCode.ERROR)
    if not json_output:
        typer.echo(f"{len(result.apps)} app(s) valid")
