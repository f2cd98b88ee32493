"""The template sink's rules, shared by ``validate`` (offline) and the sink (at delivery).

Templates are Python's ``string.Template``: ``$name``/``${name}`` substitution of the flat
connection values and ``$$`` for a literal ``$``; no expressions, no attribute access, no code.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from typing import Any

from provisioner.core.errors import SinkError
from provisioner.model.manifest import TemplateSink
from provisioner.model.sink_rules import resolve_path

PathLike = str | os.PathLike[str]


def template_text(sink: TemplateSink, base_dir: PathLike | None) -> str:
    """The template's text (inline or read from ``template_file``); SinkError when unreadable."""
    if sink.template is not None:
        return sink.template
    assert sink.template_file is not None
    path = resolve_path(sink.template_file, base_dir)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SinkError(f"template_file {path}: cannot read it ({detail})") from None


def template_problems(text: str, known: Mapping[str, Any]) -> list[str]:
    """Why ``text`` cannot be rendered from values with the keys of ``known`` (empty: it can)."""
    template = string.Template(text)
    if not template.is_valid():
        return ["the template has a '$' that starts no placeholder; write $$ for a literal '$'"]
    unknown = sorted(set(template.get_identifiers()) - set(known))
    names = ", ".join(sorted(known))
    return [f"placeholder ${{{name}}} names no connection value (known: {names})" for name in unknown]


def render(text: str, flat: Mapping[str, str]) -> str:
    """Substitute flat connection values; SinkError naming a missing value (never a value itself)."""
    try:
        return string.Template(text).substitute(flat)
    except KeyError as exc:
        raise SinkError(
            f"the template names ${{{exc.args[0]}}}, which this delivery has no value for"
        ) from None
    except ValueError:
        raise SinkError(
            "the template has a '$' that starts no placeholder; write $$ for a literal '$'"
        ) from None
