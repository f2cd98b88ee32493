"""YAML manifests -> validated :class:`App` models, every value traceable to file:line:column.

Why not ``yaml.safe_load``: it silently keeps the last of two duplicate keys,
expands aliases without limit ("billion laughs"), and forgets where values came
from. Here PyYAML (libyaml when available) only produces the *event* stream;
this module builds plain Python values from it, recording the mark of every
value and key under its path (``("apps", 0, "permissions", "Microsoft Graph")``).
pydantic's error ``loc`` tuples are then mapped back to those marks, and later
stages (validate, plan, apply) use :meth:`LoadedApp.locate` for the same purpose.

Refused, each with a located one-line message: files over :data:`MAX_FILE_BYTES`,
non-UTF-8 bytes, malformed YAML, several documents in one file, aliases (so no
expansion bombs; anchors alone are harmless), merge keys (``<<``), non-scalar
keys, duplicate keys, tags other than YAML's core scalars, nesting deeper than
:data:`MAX_DEPTH`, a top level that is not a mapping, and everything the model
rejects. Problems of every file are collected in one run; within one file only a
syntax error, an alias, a merge key or excessive nesting stops reading that file.
Apps are handed on only from files without any problem.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from provisioner.core.errors import Location, ManifestError, ManifestErrors
from provisioner.core.text import printable
from provisioner.model.catalog import suggest
from provisioner.model.manifest import NAME_PATTERN, App, ManifestFile

MAX_FILE_BYTES = 1024 * 1024
#: Nesting deeper than this is certainly not a manifest (the model is ~6 deep); it also keeps
#: the recursive steps below far away from Python's recursion limit.
MAX_DEPTH = 32
MANIFEST_SUFFIXES = (".yaml", ".yml")

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_CORE + t for t in ("null", "bool", "int", "float", "str", "timestamp"))
_STR_TAG = _CORE + "str"
_MAP_TAG = _CORE + "map"
_SEQ_TAG = _CORE + "seq"

DataPath = tuple[Any, ...]


# --------------------------------------------------------------------------------------------- paths


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: Iterable[Any]) -> str:
    """``("apps", 0, "permissions", "Microsoft Graph")`` -> ``apps[0].permissions["Microsoft Graph"]``."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            # json.dumps escapes quotes and C0 controls; printable also DEL, C1, bidi and separators.
            out += f"[{printable(json.dumps(str(part), ensure_ascii=False), one_line=True)}]"
    return out


@dataclass(frozen=True, eq=False)
class SourceMap:
    """Marks of every value and mapping key of one file, keyed by data path (1-based line/column)."""

    path: str
    values: dict[DataPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[DataPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Sequence[Any] = (), *, key: bool = False) -> Location:
        """Location of ``path``, or of its nearest recorded ancestor; ``key`` prefers the key's mark."""
        probe = tuple(path)
        while True:
            mark = (self.keys.get(probe) if key else None) or self.values.get(probe)
            if mark is not None:
                return Location(self.path, mark[0], mark[1])
            if not probe:
                return Location(self.path)
            probe = probe[:-1]


@dataclass(frozen=True, eq=False)
class LoadedApp:
    """An app plus where it came from, so any later stage can point at the right file:line."""

    app: App
    source: Location
    index: int
    source_map: SourceMap

    @property
    def prefix(self) -> DataPath:
        return ("apps", self.index)

    def locate(self, path: Sequence[Any] = (), *, key: bool = False) -> Location:
        """Location of a sub-path of this app, e.g. ``("permissions", "Microsoft Graph", "delegated", 2)``."""
        return self.source_map.locate((*self.prefix, *path), key=key)

    def label(self, path: Sequence[Any] = ()) -> str:
        return format_path((*self.prefix, *path))

    def error(self, path: Sequence[Any], message: str, *, key: bool = False) -> ManifestError:
        """A located one-line error: ``file:line:col: apps[0].x.y: message``."""
        return ManifestError(f"{self.label(path)}: {message}", self.locate(path, key=key))


# ---------------------------------------------------------------------------------- YAML -> values


class _Abort(Exception):
    """Stops building one file after a problem that leaves nothing sensible to validate."""


#: Returned for a scalar that was rejected (bad tag, merge key, unparsable value); already reported.
_REJECTED = object()


class _Builder:
    """Turns one YAML event stream into Python values plus a :class:`SourceMap`."""

    def __init__(self, loader: Any, source_map: SourceMap, errors: list[ManifestError]) -> None:
        self.loader = loader
        self.map = source_map
        self.errors = errors
        #: Paths whose value was dropped or doubtful; model errors under them would only be noise.
        self.poisoned: set[DataPath] = set()

    def fail(self, mark: Any, path: DataPath, message: str, *, poison: bool = True) -> None:
        """Record a located error; ``poison`` marks ``path``'s value as doubtful for later stages."""
        where = Location(self.map.path, mark.line + 1, mark.column + 1)
        label = format_path(path)
        self.errors.append(ManifestError(f"{label}: {message}" if label else message, where))
        if poison:
            self.poisoned.add(path)

    def document(self) -> Any:
        loader = self.loader
        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # DocumentStart
        value = self.node((), 0)
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.peek_event()
            self.fail(event.start_mark, (), "only one YAML document per file (remove the extra '---')")
            raise _Abort
        return value

    def node(self, path: DataPath, depth: int) -> Any:
        event = self.loader.get_event()
        mark = event.start_mark
        if depth > MAX_DEPTH:
            self.fail(mark, (), f"nested deeper than {MAX_DEPTH} levels; this cannot be a manifest")
            raise _Abort
        self.map.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(event, yaml.AliasEvent):
            # One error and stop: refusing aliases outright is what rules out expansion bombs.
            self.fail(mark, path, f"YAML aliases (*{event.anchor}) are not supported; write the value out")
            raise _Abort
        if isinstance(event, yaml.ScalarEvent):
            value = self.scalar(event, path)
            return None if value is _REJECTED else value
        if isinstance(event, yaml.SequenceStartEvent):
            self.check_tag(event, _SEQ_TAG, path)
            items: list[Any] = []
            while not self.loader.check_event(yaml.SequenceEndEvent):
                items.append(self.node((*path, len(items)), depth + 1))
            self.loader.get_event()
            return items
        if isinstance(event, yaml.MappingStartEvent):
            self.check_tag(event, _MAP_TAG, path)
            return self.mapping(path, depth)
        raise _Abort  # unreachable for a well-formed event stream

    def check_tag(self, event: Any, expected: str, path: DataPath) -> None:
        if event.tag not in (None, "!", expected):
            self.fail(event.start_mark, path, f"unsupported YAML tag {event.tag!r}")

    def scalar(self, event: Any, path: DataPath, *, poison: bool = True) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _CORE + "merge":
            # Merged keys would be missing from the result; stop rather than report phantom errors.
            self.fail(event.start_mark, path, "YAML merge keys (<<) are not supported; write the keys out")
            raise _Abort
        if tag == _STR_TAG:  # most scalars: the constructor would return the text as it is
            return event.value
        if tag not in _SCALAR_TAGS:
            self.fail(event.start_mark, path, f"unsupported YAML tag {tag!r}", poison=poison)
            return _REJECTED
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return self.loader.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            self.fail(
                event.start_mark,
                path,
                f"invalid {tag.rsplit(':', 1)[-1]} value: {_short(exc)}",
                poison=poison,
            )
            return _REJECTED

    def mapping(self, path: DataPath, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        loader = self.loader
        while not loader.check_event(yaml.MappingEndEvent):
            key_event = loader.peek_event()
            key_mark = key_event.start_mark
            if not isinstance(key_event, yaml.ScalarEvent):
                if isinstance(key_event, yaml.AliasEvent):
                    self.fail(key_mark, path, f"YAML aliases (*{key_event.anchor}) are not supported")
                    raise _Abort
                self.fail(
                    key_mark, path, "mapping keys must be plain scalars (text or numbers)", poison=False
                )
                self.skip()  # the key
                self.skip()  # its value
                continue
            loader.get_event()
            key = self.scalar(key_event, path, poison=False)
            if key is _REJECTED:
                self.skip()  # drop the value of a rejected key too
                continue
            child = (*path, key)
            if key in out:
                first = self.map.keys[child]
                self.fail(
                    key_mark,
                    child,
                    f"duplicate key {key!r} (first defined at line {first[0]}, column {first[1]})",
                    poison=False,
                )
                self.skip()
                continue
            self.map.keys[child] = (key_mark.line + 1, key_mark.column + 1)
            out[key] = self.node(child, depth + 1)
        loader.get_event()
        return out

    def skip(self) -> None:
        """Consume one complete node (scalar, alias or collection) without building it."""
        level = 0
        while True:
            event = self.loader.get_event()
            if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                level += 1
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                level -= 1
            if level == 0:
                return


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n")
    if 0 <= line < len(lines) and 0 <= column < len(lines[line]):
        return lines[line][column]
    return ""


def _yaml_error(path: str, text: str, exc: yaml.YAMLError) -> ManifestError:
    """PyYAML's multi-line error -> one located line."""
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        return ManifestError(
            f"invalid YAML: unacceptable character #x{exc.character:04x}", Location(path, line, column)
        )
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if not problem:
        detail = _short(exc)
    elif context and context_mark is not None and mark is not None and context_mark.line != mark.line:
        # e.g. an unclosed '[': the problem shows at the end of the file, the cause where it opened.
        detail = f"{problem} ({context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
    else:
        detail = f"{context}, {problem}" if context else str(problem)
    message = "invalid YAML: " + " ".join(detail.split())
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        message += " (tabs cannot indent YAML; use spaces)"
    if mark is not None:
        return ManifestError(message, Location(path, mark.line + 1, mark.column + 1))
    return ManifestError(message, Location(path))


# ------------------------------------------------------------------------------ pydantic -> messages


def _describe(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _echo(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _step(tp: Any, part: Any) -> Any:
    """The type found one loc element below ``tp`` (None if unknown); follows pydantic's loc rules."""
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        info = tp.model_fields.get(part) if isinstance(part, str) else None
        return info.annotation if info is not None else None
    if origin is list:
        return typing.get_args(tp)[0] if isinstance(part, int) else None
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin in (types.UnionType, typing.Union):
        for member in typing.get_args(tp):
            member = _unwrap(member)
            if (
                isinstance(member, type)
                and issubclass(member, BaseModel)
                and "type" in member.model_fields
                and part in typing.get_args(member.model_fields["type"].annotation)
            ):
                return member
        return None
    return None


def _model_at(loc: Sequence[Any]) -> type[BaseModel] | None:
    tp: Any = ManifestFile
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    loc = err["loc"]
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        hint = suggest(str(loc[-1]), list(model.model_fields)) if model else None
        more = f" (did you mean {hint!r}?)" if hint else ""
        if model and not hint:
            more = f" (allowed: {', '.join(model.model_fields)})"
        return f"unknown key {loc[-1]!r}{more}"
    if kind == "string_type" and "[key]" in loc:
        return f"keys here must be text, got {_describe(value)} (quote the key)"
    if kind == "list_type" and isinstance(value, str):
        return "expected a list, got a string (write [item, ...] or one '- item' per line)"
    if kind == "string_type":
        quote = " (quote it to keep it as text)" if isinstance(value, bool | int | float | date) else ""
        return f"expected a string, got {_describe(value)}{quote}"
    if kind == "list_type":
        return f"expected a list, got {_describe(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {_describe(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_echo(value) if isinstance(value, str) else _describe(value)}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {_echo(value)}"
    if kind == "enum":
        options = [o.strip(" '") for o in re.split(r",| or ", str(ctx.get("expected", "")))]
        hint = suggest(str(value), options) if isinstance(value, str) else None
        more = f" (did you mean {hint!r}?)" if hint else ""
        return f"expected one of {ctx.get('expected')}, got {_echo(value)}{more}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        return (
            f"invalid name {_echo(value)}: use 1-64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if kind == "string_too_short":
        return (
            "must not be empty"
            if ctx.get("min_length") == 1
            else f"must be at least {ctx.get('min_length')} characters"
        )
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters (got {len(value) if value is not None else 0})"
    if kind == "union_tag_invalid":
        tags = str(ctx.get("expected_tags", ""))
        hint = suggest(str(ctx.get("tag")), [t.strip(" '") for t in tags.split(",")])
        more = f" (did you mean {hint!r}?)" if hint else ""
        return f"unknown {ctx.get('discriminator', 'type').strip(chr(39))} {_echo(ctx.get('tag'))}: expected one of {tags}{more}"
    if kind == "union_tag_not_found":
        return f"missing key {ctx.get('discriminator', 'type')} (json, dotenv, github or keyvault)"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def _located(err: Any, source_map: SourceMap) -> tuple[DataPath, ManifestError]:
    """Map a pydantic error onto (data path, located error).

    pydantic's ``loc`` mixes data keys with pseudo elements (a discriminated union's tag such
    as ``"json"``, ``"[key]"`` for dict-key errors); walking only the elements that exist in
    the source map skips those without knowing pydantic's rules in detail.
    """
    loc = err["loc"]
    path: DataPath = ()
    tp: Any = ManifestFile
    for part in loc:
        is_tag = typing.get_origin(_unwrap(tp)) in (types.UnionType, typing.Union)
        tp = _step(tp, part) if tp is not None else None
        if is_tag or part == "[key]":
            continue  # a discriminated union's tag or pydantic's dict-key marker, not data
        if (*path, part) in source_map.values:
            path = (*path, part)
    kind = err["type"]
    if kind == "missing":
        # The key is absent: point at the mapping that lacks it.
        data_path, label, location = (*path, loc[-1]), path, source_map.locate(path)
    elif kind == "extra_forbidden":
        data_path, label, location = path, path[:-1], source_map.locate(path, key=True)
    else:
        data_path, label, location = path, path, source_map.locate(path, key="[key]" in loc)
    text = _message(err)
    prefix = format_path(label)
    return data_path, ManifestError(f"{prefix}: {text}" if prefix else text, location)


# ------------------------------------------------------------------------------------------ files


def _read(path: str, errors: list[ManifestError]) -> str | None:
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            errors.append(
                ManifestError(
                    f"file is {size} bytes; manifests are limited to {MAX_FILE_BYTES} bytes", Location(path)
                )
            )
            return None
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        errors.append(ManifestError(f"cannot read file: {exc.strerror or exc}", Location(path)))
        return None
    return decode(data, path, errors)


def decode(data: bytes, path: str, errors: list[ManifestError]) -> str | None:
    """UTF-8 (with or without BOM) or a located error; YAML 1.1 allows UTF-16 but manifests do not."""
    if len(data) > MAX_FILE_BYTES:
        errors.append(ManifestError(f"file is larger than {MAX_FILE_BYTES} bytes", Location(path)))
        return None
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        errors.append(
            ManifestError(
                f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x})", Location(path, line, column)
            )
        )
        return None


def parse_text(
    text: str, path: str, errors: list[ManifestError]
) -> tuple[Any, SourceMap, set[DataPath], bool]:
    """YAML text -> (value, source map, poisoned paths, complete); problems go to ``errors``.

    ``complete`` is False when the file could not be read to its end (syntax error, alias,
    too deep): nothing of it should be validated further.
    """
    source_map = SourceMap(path)
    loader = _Loader(text)
    builder = _Builder(loader, source_map, errors)
    try:
        return builder.document(), source_map, builder.poisoned, True
    except _Abort:
        return None, source_map, builder.poisoned, False
    except yaml.YAMLError as exc:
        errors.append(_yaml_error(path, text, exc))
        return None, source_map, builder.poisoned, False
    finally:
        loader.dispose()


def _sorted(errors: list[ManifestError]) -> list[ManifestError]:
    """File order, then line and column: the order a user fixes them in."""

    def key(error: ManifestError) -> tuple[str, int, int]:
        where = error.location or Location("")
        return (where.path, where.line or 0, where.column or 0)

    return sorted(errors, key=key)


def load_text(
    text: str | bytes, path: str = "<string>", *, salvage: list[LoadedApp] | None = None
) -> tuple[list[LoadedApp], list[ManifestError]]:
    """Parse and model-validate one manifest; never raises for bad input (errors are returned).

    Apps are returned only when the whole file is clean, so later stages never act on a
    half-understood file. ``salvage``, when given, receives apps that failed only in some
    top-level keys, re-validated without those keys: ``validate`` runs its catalogue checks
    on them too, so one run reports a typo'd key *and* a typo'd permission name.
    """
    errors: list[ManifestError] = []
    if isinstance(text, bytes):
        decoded = decode(text, path, errors)
        if decoded is None:
            return [], errors
        text = decoded
    if len(text) > MAX_FILE_BYTES:
        return [], [ManifestError(f"file is larger than {MAX_FILE_BYTES} bytes", Location(path))]
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        return [], [ManifestError(f"text is not valid Unicode ({exc.reason})", Location(path))]
    if size > MAX_FILE_BYTES:
        return [], [ManifestError(f"file is larger than {MAX_FILE_BYTES} bytes", Location(path))]
    value, source_map, poisoned, complete = parse_text(text, path, errors)
    if not complete:
        return [], errors
    if not source_map.values:
        errors.append(ManifestError("empty manifest: expected a mapping with 'apps:'", Location(path)))
        return [], errors
    if not isinstance(value, dict):
        message = f"top level must be a mapping with 'apps:', got {_describe(value)}"
        errors.append(ManifestError(message, source_map.locate(())))
        return [], errors
    try:
        manifest = ManifestFile.model_validate(value)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            data_path, error = _located(err, source_map)
            if not any(data_path[: len(p)] == p for p in poisoned):
                errors.append(error)
        if salvage is not None:
            salvage.extend(_salvage(value, source_map, exc, poisoned))
        return [], _sorted(errors)
    if errors:
        return [], _sorted(errors)
    apps = [
        LoadedApp(app=app, source=source_map.locate(("apps", index)), index=index, source_map=source_map)
        for index, app in enumerate(manifest.apps)
    ]
    return apps, errors


def manifest_files(paths: Iterable[str | os.PathLike[str]], errors: list[ManifestError]) -> list[str]:
    """Expand folders into their ``*.yaml``/``*.yml`` files (recursive, sorted, hidden entries skipped)."""
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in MANIFEST_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not inside:
                errors.append(
                    ManifestError("no *.yaml or *.yml manifests in this folder", Location(str(raw)))
                )
            found.extend(str(p) for p in inside)
        elif path.is_file():
            found.append(str(path))
        else:
            errors.append(ManifestError("no such file or folder", Location(str(raw))))
    unique: list[str] = []
    seen: set[str] = set()
    for item in found:
        key = os.path.realpath(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _salvage(
    value: dict[str, Any], source_map: SourceMap, exc: ValidationError, poisoned: Iterable[DataPath] = ()
) -> list[LoadedApp]:
    """The file's apps with their failing keys left out, for ``validate``'s catalogue checks.

    Apps without errors of their own come back whole (a typo in one app must not hide a wrong
    permission name in the next one until a second run); an app under a YAML-level problem
    (``poisoned``) is left out, its value is not what the file says.
    """
    raw_apps = value.get("apps")
    if not isinstance(raw_apps, list):
        return []
    bad_keys: dict[int, set[Any]] = {index: set() for index in range(len(raw_apps))}
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if len(loc) >= 3 and loc[0] == "apps" and isinstance(loc[1], int):
            bad_keys.setdefault(loc[1], set()).add(loc[2])
        elif len(loc) == 2 and loc[0] == "apps" and isinstance(loc[1], int):
            bad_keys.pop(loc[1], None)  # the app itself is not a mapping
    spoiled = list(poisoned)
    salvaged: list[LoadedApp] = []
    for index, keys in bad_keys.items():
        here = ("apps", index)
        if any(p[: len(here)] == here or here[: len(p)] == p for p in spoiled):
            continue
        raw = raw_apps[index] if index < len(raw_apps) else None
        if not isinstance(raw, dict):
            continue
        try:
            app = App.model_validate({k: v for k, v in raw.items() if k not in keys})
        except ValidationError:
            continue
        salvaged.append(
            LoadedApp(app=app, source=source_map.locate(("apps", index)), index=index, source_map=source_map)
        )
    return salvaged


def load_paths(
    paths: Iterable[str | os.PathLike[str]], *, salvage: list[LoadedApp] | None = None
) -> tuple[list[LoadedApp], list[ManifestError]]:
    """Load every manifest under ``paths``; returns all apps that loaded and all errors found.

    App names must be unique across all files: a repeat is reported at the second
    occurrence, naming the first.
    """
    errors: list[ManifestError] = []
    apps: list[LoadedApp] = []
    first_seen: dict[str, LoadedApp] = {}
    for file in manifest_files(paths, errors):
        text = _read(file, errors)
        if text is None:
            continue
        loaded, file_errors = load_text(text, file, salvage=salvage)
        errors.extend(file_errors)
        for item in loaded:
            first = first_seen.get(item.app.name)
            if first is not None:
                errors.append(
                    item.error(
                        ("name",), f"duplicate app name {item.app.name!r} (first defined at {first.source})"
                    )
                )
                continue
            first_seen[item.app.name] = item
            apps.append(item)
    return apps, errors


def load(paths: Iterable[str | os.PathLike[str]]) -> list[LoadedApp]:
    """Like :func:`load_paths` but raises :class:`ManifestErrors` if anything is wrong."""
    apps, errors = load_paths(paths)
    if errors:
        raise ManifestErrors(errors)
    return apps


__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "LoadedApp",
    "SourceMap",
    "format_path",
    "load",
    "load_paths",
    "load_text",
    "manifest_files",
]
