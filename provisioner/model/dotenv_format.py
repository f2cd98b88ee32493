"""How a value is spelled in a dotenv file so that every reader the sink promises sees the same string.

Pure rules shared by ``validate`` (values known offline: extra values, scopes, redirect URIs),
the sink's preflight and the sink itself (values known only at delivery: IDs, URLs, the
secret). Three readers consume these files and disagree about almost everything:

* a POSIX shell, ``set -a; . file`` (bash and dash): unquoted words split on blanks, ``$``,
  backticks and operators are code, ``~`` at the start of a value or after ``:`` expands;
* python-dotenv: ``'...'`` decodes ``\\\\`` and ``\\'``; ``"..."`` decodes ``\\\\``,
  ``\\"``, ``\\'`` and C escapes but keeps ``\\$``; every value (single-quoted ones
  included) interpolates ``${NAME}``; unquoted values lose a `` #...`` tail and trailing blanks;
* ``docker run --env-file``: one ``VAR=VAL`` per line, the value taken literally (no quote
  removal, no escapes).

So a sink picks one **dialect**:

``portable`` (default)
    Every value bare (unquoted). Allowed: letters and digits (any script), ``_ . / : @ % + , = -``
    and ``~`` except first or right after ``:`` (a shell would expand it). Entra client secrets
    (``[A-Za-z0-9~._-]``), GUIDs, timestamps, https URLs and single scopes fit; a value with a
    space (a scope *list*), a quote, ``$``, a backtick, ``#``, a backslash or any control,
    bidi or line-separator character is refused (at ``validate`` where the value is known
    offline, else before delivery). Read alike by all three.
``shell``
    For ``set -a; . file`` and python-dotenv. Bare where portable allows it, else ``'...'``
    (literal in both) when the value holds no ``'`` or ``\\``, else ``"..."`` escaping only ``\\``
    and ``"`` (both readers decode exactly those) when it holds no ``$`` or backtick. Refused:
    a value holding ``${`` (python-dotenv would interpolate it even in single quotes), one with
    ``'`` or ``\\`` *and* ``$`` or a backtick, and control, bidi and separator characters.
``docker``
    For ``docker run --env-file`` only: ``VAR=VAL`` with the value as is. Refused: control,
    bidi and separator characters (a line break would end the value). Never ``source`` such
    a file: a shell would execute parts of it.

Whatever the dialect, a file holds ``\\n`` as its only line break, so a reader splitting on
``\\n`` (as this tool's does) sees the lines every other reader sees.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from provisioner.core.text import BIDI, SEPARATORS

Dialect = Literal["portable", "shell", "docker"]
DIALECTS: tuple[Dialect, ...] = ("portable", "shell", "docker")

#: Connection-values keys -> variable names (azure-identity's EnvironmentCredential names where one exists).
DOTENV_NAMES: dict[str, str] = {
    "tenant_id": "AZURE_TENANT_ID",
    "client_id": "AZURE_CLIENT_ID",
    "client_secret": "AZURE_CLIENT_SECRET",
    "client_secret_id": "AZURE_CLIENT_SECRET_ID",
    "client_secret_expires": "AZURE_CLIENT_SECRET_EXPIRES",
    "authority_host": "AZURE_AUTHORITY_HOST",
    "authorization_url": "AUTHORIZATION_URL",
    "token_url": "TOKEN_URL",
    "tenant_authorization_url": "TENANT_AUTHORIZATION_URL",
    "tenant_token_url": "TENANT_TOKEN_URL",
    "scopes": "SCOPES",
    "app_scopes": "APP_SCOPES",
    "redirect_uri": "REDIRECT_URI",
    "redirect_uris": "REDIRECT_URIS",
    "graph_endpoint": "GRAPH_ENDPOINT",
}
#: Descriptive keys a process environment has no use for.
SKIPPED_KEYS = frozenset({"app", "display_name", "audience"})

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PREFIX = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*)?$")

_UNSAFE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{BIDI}{SEPARATORS}]")
_BARE_PUNCT = frozenset("_./:@%+,=-~")


def variable_name(key: str, prefix: str = "") -> str:
    """The dotenv variable for a connection-values key."""
    base = DOTENV_NAMES.get(key) or re.sub(r"[^A-Za-z0-9_]", "_", key).upper()
    return f"{prefix}{base}"


def block_name(key: str, prefix: str = "", rename: Mapping[str, str] | None = None) -> str | None:
    """The variable a dotenv block writes for a connection-values key; None: the block leaves the key out.

    A sink's ``rename`` names the whole variable (its prefix is not applied) and also brings in
    a key the block otherwise skips (``app``, ``display_name``, ``audience``): the user asked for it.
    """
    if rename and key in rename:
        return rename[key]
    if key in SKIPPED_KEYS:
        return None
    return variable_name(key, prefix)


def _bare_ok(value: str) -> bool:
    for index, char in enumerate(value):
        if char == "~":
            if index == 0 or value[index - 1] == ":":
                return False
        elif not (char.isalnum() or char in _BARE_PUNCT):
            return False
    return True


def _describe(char: str) -> str:
    if char == " ":
        return "a space"
    if _UNSAFE.match(char):
        return f"the control, bidi or line-separator character U+{ord(char):04X}"
    return f"the character {char!r}"


def problem(value: str, dialect: Dialect) -> str | None:
    """Why ``value`` cannot be written in ``dialect`` (a short phrase, never the value), or None."""
    unsafe = _UNSAFE.search(value)
    if unsafe:
        return f"it holds {_describe(unsafe.group(0))}"
    if dialect == "docker":
        return None
    if dialect == "portable":
        for index, char in enumerate(value):
            if char == "~" and (index == 0 or value[index - 1] == ":"):
                return "it holds '~' at its start or after ':', which a shell expands"
            if not (char.isalnum() or char in _BARE_PUNCT):
                return (
                    f"it holds {_describe(char)}, which set -a; . file, python-dotenv and "
                    "docker --env-file cannot all read alike"
                )
        return None
    if "${" in value:
        return "it holds '${', which python-dotenv replaces by a variable even inside quotes"
    if ("'" in value or "\\" in value) and ("$" in value or "`" in value):
        return "it holds a quote or backslash together with '$' or a backtick, which no quoting reads alike"
    return None


def quote(value: str, dialect: Dialect = "shell") -> str:
    """The spelling of ``value`` after ``NAME=``; raises ValueError when :func:`problem` says no."""
    why = problem(value, dialect)
    if why:
        raise ValueError(why)
    if dialect == "docker" or _bare_ok(value):
        return value
    if "'" not in value and "\\" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(raw: str, dialect: Dialect = "shell") -> str:
    """Inverse of :func:`quote` (reads back what this sink wrote; docker values are literal)."""
    if dialect == "docker":
        return raw
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        out: list[str] = []
        chars = iter(raw[1:-1])
        for char in chars:
            if char == "\\":
                following = next(chars, "")
                out.append(following if following in '\\"' else "\\" + following)
            else:
                out.append(char)
        return "".join(out)
    return raw


__all__ = [
    "DIALECTS",
    "DOTENV_NAMES",
    "NAME",
    "PREFIX",
    "SKIPPED_KEYS",
    "Dialect",
    "problem",
    "quote",
    "unquote",
    "variable_name",
]
