"""Calling the engine in-process the way the CLI does: one options object, single-tenant results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provisioner.engine import runner
from provisioner.engine.options import RunOptions


def options(manifests: Path | str, state_dir: Path, base_dir: Path | None = None, **kw: Any) -> RunOptions:
    return RunOptions(paths=(str(manifests),), state_dir=state_dir, base_dir=base_dir, **kw)


def approve_all(approve: Any = None) -> Any:
    """Adapt a per-plan ``approve`` (default: yes) to the runner's one-question-for-all form."""
    if approve is None:
        return lambda plans, results: True
    return lambda plans, results: all(approve(p) for p in plans.values())


def apply(manifests: Path | str, state_dir: Path, base_dir: Path | None = None, approve: Any = None) -> Any:
    outcome = runner.apply(options(manifests, state_dir, base_dir), approve_all(approve))
    return outcome.single.applied


def plan(manifests: Path | str, state_dir: Path, base_dir: Path | None = None) -> Any:
    """The single tenant's result: ``.plan`` and ``.warnings``."""
    return runner.plan(options(manifests, state_dir, base_dir)).single


def rotate(manifests: Path | str, state_dir: Path, base_dir: Path | None = None, force: bool = False) -> Any:
    outcome = runner.rotate(options(manifests, state_dir, base_dir, force=force), approve_all())
    return outcome.single.rotated
