"""`provisioner schema`: the manifest JSON Schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from provisioner.cli._base import (
    app,
    handles_errors,
)
from provisioner.core.errors import ProvisionerError
from provisioner.core.fileio import atomic_write_text


@app.command()
@handles_errors
def schema(
    out: Annotated[Path | None, typer.Option("--out", help="Write to a file instead of stdout.")] = None,
) -> None:
    """Print the manifest JSON Schema (for editor completion and checks)."""
    from provisioner.manifest.schema import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out:
        try:  # 0600 and atomic like every file the tool writes, whatever the umask
            atomic_write_text(out, text)
        except OSError as exc:
            raise ProvisionerError(f"cannot write {out}: {exc.strerror or type(exc).__name__}") from None
    else:
        sys.stdout.write(text)
