"""Rules about sink destinations that ``validate``, the preflight and the sinks must apply alike.

Pure functions (the file system is only *looked at*, never written), kept below the manifest
and sink layers so both use one definition of:

* where a file sink writes (:func:`resolve_path`, :func:`real_path`) and whether that is
  outside the folder sink paths resolve against (:func:`outside_root`). That folder is the
  run's base folder: the working directory for the CLI (``RunOptions.base``), where the
  shipped manifests' ``out/...`` paths have always landed. A path that leaves it (absolute,
  ``..``, ``~`` or a symlink) needs ``allow_outside: true``;
* which destination two sinks share (:func:`destination_key`): resolved real paths for
  files, the vault host and the case-insensitive secret name for Key Vault;
* the values of a dotenv block that are known before any tenant is read
  (:func:`offline_values`): extra values, scopes of the bundled resources, redirect URIs;
* the flat ``key -> text`` view line-oriented sinks write (:func:`flat_values`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from provisioner.core.errors import ProvisionerError, SinkError
from provisioner.model.connections import (
    SERVICE_PRINCIPAL,
    MintedCertificate,
    MintedSecret,
    connection_values,
    resolve_resource,
)
from provisioner.model.dotenv_format import block_name
from provisioner.model.manifest import (
    App,
    DotenvSink,
    GithubSecretSink,
    GithubSink,
    JsonSink,
    KeyVaultSink,
    TemplateSink,
)

PathLike = str | os.PathLike[str]

#: Stand-ins for values only a tenant knows; used to learn which keys a block will hold.
_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
#: GitHub Actions step output names (the rule ``sinks.github_sink`` applies when it writes).
GITHUB_OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
#: Keys whose values come from the manifest alone (the rest depend on the tenant, cloud or a mint).
OFFLINE_KEYS = frozenset({"scopes", "app_scopes", "redirect_uri", "redirect_uris"})


def resolve_path(path: str, base_dir: PathLike | None) -> Path:
    """Manifest paths: ``~`` expanded; relative ones taken from ``base_dir`` (else the working directory).

    Lexical only (``..`` kept, symlinks not followed): this is the path users read in messages.
    """
    resolved = Path(path).expanduser()
    if not resolved.is_absolute() and base_dir is not None:
        resolved = Path(base_dir) / resolved
    return resolved.absolute()


def real_path(path: str, base_dir: PathLike | None) -> Path:
    """Where the file really is: ``..`` collapsed and every existing symlink followed."""
    return Path(_realpath(str(resolve_path(path, base_dir))))


def root_of(base_dir: PathLike | None) -> Path:
    """The base folder's real path (inside :func:`folders_remembered`, looked up once per pass)."""
    folder = str(base_dir if base_dir is not None else Path.cwd())
    return folder_fact("root", folder, lambda: Path(_realpath(folder)))


_T = TypeVar("_T")
_FOLDERS: ContextVar[dict[Any, Any] | None] = ContextVar("real_folders", default=None)


@contextlib.contextmanager
def folders_remembered() -> Iterator[None]:
    """Inside the block, each folder's real path is looked up once, not once per file in it.

    Why: ``os.path.realpath`` calls ``lstat`` on every component of a path, and one pass over a
    run's apps resolves several files per app in the same few folders: at 1,000 apps that was
    ~40,000 ``lstat`` calls. The file's own name is still looked at on every call (one
    ``lstat``), so a symlink at the file itself is always followed. A block covers one pass over
    the apps (validation, the preflight); a folder swapped for a symlink during a pass is seen by
    the next one.
    """
    if _FOLDERS.get() is not None:  # nested: the outer block's memory serves
        yield
        return
    token = _FOLDERS.set({})
    try:
        yield
    finally:
        _FOLDERS.reset(token)


def folder_fact(kind: str, folder: str, look: Callable[[], _T]) -> _T:
    """What ``look()`` finds out about ``folder``; inside :func:`folders_remembered`, looked once.

    For facts a pass only reads (whether a folder exists, is writable): the pass writes nothing
    until it ends. ``kind`` names the fact, so several can be kept for one folder.
    """
    folders = _FOLDERS.get()
    if folders is None:
        return look()
    key = (kind, folder)
    if key not in folders:
        folders[key] = look()
    return folders[key]  # type: ignore[no-any-return]


def _realpath(path: str) -> str:
    """``os.path.realpath(path)``; inside :func:`folders_remembered`, with the folder part remembered.

    Equal to ``realpath``: it resolves a path component by component, so the folder part resolves
    to ``realpath(head)``, and a last name that is not ``.``, ``..`` or a symlink below it is
    appended as is; anything else takes the full ``realpath``.
    """
    folders = _FOLDERS.get()
    if folders is None:
        return os.path.realpath(path)
    head, tail = os.path.split(path)
    if tail in ("", ".", "..") or not head:
        return os.path.realpath(path)
    real_head = folders.get(head)
    if real_head is None:
        real_head = folders[head] = os.path.realpath(head)
    joined = os.path.join(real_head, tail)
    # The name is looked at where realpath looks at it, below the resolved folder: ``path`` itself
    # may not resolve (``missing/../link``: realpath drops ``missing`` lexically, the kernel cannot).
    if os.path.islink(joined):
        return os.path.realpath(path)
    return joined


def is_within(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def outside_root(path: str, base_dir: PathLike | None) -> bool:
    """True when the file ``path`` names (symlinks followed) is not inside the base folder."""
    return not is_within(real_path(path, base_dir), root_of(base_dir))


def shown_real(real: Path, root: Path) -> str:
    """A resolved path (``real``) as ``plan`` lists it: relative to the base folder's real path
    (``root``) when inside it, else absolute."""
    return str(real.relative_to(root)) if is_within(real, root) and real != root else str(real)


def vault_key(vault_url: str, secret_name: str) -> tuple[str, str]:
    """One vault secret, however its URL and name are spelled (Key Vault names ignore case)."""
    parts = urlsplit(vault_url.strip())
    host = (parts.hostname or vault_url).lower().rstrip(".")
    port = parts.port
    if port not in (None, 443):
        host = f"{host}:{port}"
    return host, secret_name.lower()


def github_secret_scope(sink: GithubSecretSink) -> tuple[str, str]:
    """(API host, repository[/environment] or org:NAME), the way GitHub compares them (without case)."""
    host = (urlsplit(sink.api_url).netloc or sink.api_url).lower()
    if sink.organization is not None:
        return host, f"org:{sink.organization.lower()}"
    scope = f"repo:{(sink.repository or '').lower()}"
    return host, scope + (f"/env:{sink.environment}" if sink.environment is not None else "")


def destination_key(
    sink: JsonSink | DotenvSink | GithubSink | KeyVaultSink | GithubSecretSink | TemplateSink,
    app: App,
    base_dir: PathLike | None,
) -> tuple[str, ...]:
    """What two sinks must not share: ``("file", real path)``, ``("keyvault", host, name)``, ``("github", prefix)``."""
    match sink:
        case JsonSink() | DotenvSink() | TemplateSink():
            return ("file", str(real_path(sink.path, base_dir)))
        case KeyVaultSink():
            return ("keyvault", *vault_key(sink.vault_url, sink.name_for(app.name)))
        case GithubSink():
            return ("github", sink.prefix.lower())
        case GithubSecretSink():
            return ("github_secret", *github_secret_scope(sink), sink.name_for(app.name).upper())
    raise TypeError(f"unknown sink {sink!r}")  # pragma: no cover - the model admits no other type


def flat_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Top-level scalar values as strings; lists of strings space-joined; ``secrets`` left out.

    Line-oriented sinks (dotenv, GitHub outputs) carry one secret — the
    current ``client_secret`` — not the per-secret list the JSON file keeps.
    """
    flat: dict[str, str] = {}
    for key, value in values.items():
        if key == "secrets" or value is None:
            continue
        if isinstance(value, list):
            if all(isinstance(item, str) for item in value):
                flat[key] = " ".join(value)
            continue
        if isinstance(value, Mapping):
            continue
        if isinstance(value, bool):
            flat[key] = "true" if value else "false"
        else:
            flat[key] = str(value)
    return flat


def _known_resources_only(app: App) -> App:
    """``app`` without permissions of resources whose scope spelling only the tenant knows."""
    kept = {}
    for key, grants in app.permissions.items():
        try:
            resolve_resource(key)
        except ProvisionerError:
            continue
        kept[key] = grants
    return app.model_copy(update={"permissions": kept, "extra_values": {}})


def sample_values(app: App) -> dict[str, Any]:
    """Connection values with placeholder IDs (and a placeholder secret when secrets are declared).

    The keys are those a real delivery writes; only :data:`OFFLINE_KEYS` and the extra values
    carry real content.
    """
    minted = (
        [MintedSecret("placeholder", _PLACEHOLDER_ID, "placeholder", "pla", datetime(2000, 1, 1, tzinfo=UTC))]
        if app.secrets
        else []
    )
    if app.sp_secrets:
        minted.append(
            MintedSecret(
                "placeholder",
                _PLACEHOLDER_ID,
                "placeholder",
                "pla",
                datetime(2000, 1, 1, tzinfo=UTC),
                owner=SERVICE_PRINCIPAL,
            )
        )
    certificates = [
        MintedCertificate(
            cert.name,
            _PLACEHOLDER_ID,
            "0" * 40,
            datetime(2000, 1, 1, tzinfo=UTC),
            None,
            provided=cert.file is not None,
            pfx_password="placeholder" if cert.pfx else None,
            private_key_path=None if cert.file is not None else "placeholder.key.pem",
            pfx_path="placeholder.pfx" if cert.pfx else None,
        )
        for cert in app.certificates or []
    ]
    values = connection_values(
        _known_resources_only(app),
        tenant_id=_PLACEHOLDER_ID,
        client_id=_PLACEHOLDER_ID,
        minted=minted,
        certificates=certificates,
    )
    for key, value in app.extra_values.items():
        values.setdefault(key, value)
    return values


def offline_values(app: App, sample: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The flat values of a delivery that the manifest alone decides (key -> text).

    ``sample``: the app's :func:`sample_values` when the caller has them already.
    """
    flat = flat_values(sample if sample is not None else sample_values(app))
    return {key: value for key, value in flat.items() if key in OFFLINE_KEYS or key in app.extra_values}


def bad_github_outputs(values: Mapping[str, Any], prefix: str) -> list[str]:
    """Output names (prefix + key) a GitHub sink could not write, in key order."""
    return [f"{prefix}{key}" for key in flat_values(values) if not GITHUB_OUTPUT_NAME.match(f"{prefix}{key}")]


def dotenv_names(
    app: App, values: Mapping[str, Any], prefix: str, rename: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """Variable name -> the connection-values keys that map to it, for one dotenv block."""
    names: dict[str, list[str]] = {}
    for key in flat_values(values):
        name = block_name(key, prefix, rename)
        if name is not None:
            names.setdefault(name, []).append(key)
    return names


def renamed(values: Mapping[str, Any], rename: Mapping[str, str]) -> dict[str, Any]:
    """``values`` with the top-level keys a JSON sink's ``rename`` names under their new names (order kept).

    SinkError when two keys would land on one name (``validate`` refuses what the manifest shows;
    this catches a value only the tenant brings), naming keys, never values.
    """
    if not rename:
        return dict(values)
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in values.items():
        name = rename.get(key, key)
        if name in out:
            raise SinkError(
                f"json rename: values {origin[name]!r} and {key!r} would both be written as {name!r}"
            )
        out[name] = value
        origin[name] = key
    return out


def original(data: Mapping[str, Any], rename: Mapping[str, str]) -> dict[str, Any]:
    """A JSON sink's file read back under connection-value names (the inverse of :func:`renamed`).

    A key that is no rename target keeps its name, so a file written before the sink had a
    ``rename`` still reads (its ``client_secret`` is still seen); a renamed key wins over it.
    """
    if not rename:
        return dict(data)
    inverse = {new: old for old, new in rename.items()}
    out = {key: value for key, value in data.items() if key not in inverse}
    out.update({inverse[key]: value for key, value in data.items() if key in inverse})
    return out


__all__ = [
    "GITHUB_OUTPUT_NAME",
    "OFFLINE_KEYS",
    "bad_github_outputs",
    "destination_key",
    "dotenv_names",
    "flat_values",
    "folder_fact",
    "folders_remembered",
    "is_within",
    "offline_values",
    "original",
    "outside_root",
    "real_path",
    "renamed",
    "resolve_path",
    "root_of",
    "sample_values",
    "shown_real",
    "vault_key",
]
