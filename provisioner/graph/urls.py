"""A request's URL from its SDK URL template, expanded once per template shape instead of once per request.

msgraph-sdk builds every request as a ``RequestInformation``: an RFC 6570 URL template
and its parameters. Reading ``RequestInformation.url`` expands the template with
``std-uritemplate``, character by character: a quarter of a 1,000-app ``apply``'s CPU,
five requests per app. The templates are few and the values (object ids, the base
URL, unique names) almost always need no percent-encoding, so :func:`expand` asks
``std-uritemplate`` once per (template, which variables are set) with a marker in
place of each value, and then puts the values where the markers landed; a value that
simple or query expansion must percent-encode (a ``$filter``) is encoded with
``urllib.parse.quote``, the same rule. A value that the expansion would treat
specially (reserved or ``%`` characters in a ``{+var}``/``{#var}`` or ``;`` expansion,
an empty string, a list, a number), a template with
prefix or explode modifiers, or a template containing the marker text falls back
to ``std-uritemplate`` itself, so the result is the library's in every case
(``tests/unit/test_graph_urls.py`` compares the two).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from stduritemplate import StdUriTemplate

_EXPRESSION = re.compile(r"\{([+#./;?&]?)([^{}]*)\}")
_VARIABLE = re.compile(r"[A-Za-z0-9_%.]+")
#: Characters no operator encodes; reserved ones pass unencoded only through ``{+var}`` / ``{#var}``.
_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]+")
_RESERVED_OK = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]+")
_MARK = "qx{}xq"
_MARKED = re.compile(r"qx(\d+)xq")
_RAW_URL_KEY = "request-raw-url"


@lru_cache(maxsize=512)
def _operators(template: str) -> dict[str, str] | None:
    """variable -> operator of ``template``'s expressions; None when the fast path cannot apply."""
    if "qx" in template:
        return None
    found: dict[str, str] = {}
    for operator, names in _EXPRESSION.findall(template):
        for name in names.split(","):
            if not _VARIABLE.fullmatch(name) or found.get(name, operator) != operator:
                return None  # a modifier (name* or name:3), or one variable under two operators
            found[name] = operator
    return found


@lru_cache(maxsize=1024)
def _shape(template: str, names: tuple[str, ...]) -> str:
    """``template`` expanded with marker ``i`` as the value of ``names[i]``."""
    return StdUriTemplate.expand(template, {name: _MARK.format(i) for i, name in enumerate(names)})


def expand(template: str, values: dict[str, Any]) -> str:
    """``StdUriTemplate.expand(template, values)``, the same text, cheaper for plain values."""
    operators = _operators(template)
    if operators is None:
        return StdUriTemplate.expand(template, values)
    texts: dict[str, str] = {}
    for name, value in values.items():
        if value is None or name not in operators:
            continue  # undefined, or not in the template: both leave no trace in the expansion
        if not isinstance(value, str):
            return StdUriTemplate.expand(template, values)
        operator = operators[name]
        plain = _RESERVED_OK if operator in ("+", "#") else _UNRESERVED
        if plain.fullmatch(value):
            texts[name] = value
        elif value and operator not in ("+", "#", ";"):
            # Every character but the unreserved ones is percent-encoded (UTF-8) by these
            # operators, as ``quote`` does: a $filter's quotes, commas and spaces.
            texts[name] = quote(value, safe="")
        else:  # reserved expansion, or an empty value (";name" vs ";name=...")
            return StdUriTemplate.expand(template, values)
    ordered = tuple(sorted(texts))
    return _MARKED.sub(lambda m: texts[ordered[int(m.group(1))]], _shape(template, ordered))


def request_url(info: Any) -> str:
    """What ``info.url`` returns (``info``: a kiota ``RequestInformation``), through :func:`expand`."""
    path = info.path_parameters
    if (
        getattr(info, "_RequestInformation__uri", None)
        or not path
        or path.get(_RAW_URL_KEY)
        or not info.url_template
        or info.query_parameters is None
    ):
        return str(info.url)  # pinned, raw, or incomplete: the SDK's own property decides
    data: dict[str, Any] = {}
    for key, value in info.query_parameters.items():
        data[key] = info._get_sanitized_value(value)
    for key, value in path.items():
        data[key] = info._get_sanitized_value(value)
    return expand(info.url_template, data)
