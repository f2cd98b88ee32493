"""Where the tool keeps its own files under the state directory (``./.provisioner`` by default).

Everything that belongs to one tenant lives in that tenant's folder, keyed by
cloud and tenant ID::

    <state_dir>/tenants/<cloud>/<tenant id>/connections/<app>.json   default connection files
    <state_dir>/tenants/<cloud>/<tenant id>/delivered.json           delivery journal

Why keyed: two tenants sharing one folder (``--tenant B`` after a run against A,
or a tenants file) used to share ``connections/<app>.json``; B's run overwrote
A's value, and the next plan for A called A's live, delivered secret an orphan.

The tenant is known only once a run has read it (a credential's home tenant), so
it is a ContextVar set by each tenant's task (:func:`use_tenant`): every reader
and writer of these files (delivery, holdings, the journal, destroy, prune)
agrees without threading a parameter through each of them, and concurrent
tenants (one asyncio task each) see their own.

Files written by earlier versions (``<state_dir>/connections/[<label>/]<app>.json``,
``<state_dir>/delivered.json``, ``<state_dir>/delivered/<label>.json``) are
migrated by :func:`migrate_legacy`: a connection file names its tenant and
authority, so it moves to that tenant's folder; legacy journals are only ever
read (keyIds are unique, so their entries cannot speak for the wrong tenant).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from provisioner.core.fileio import ensure_private_dir

PathLike = str | os.PathLike[str]

TENANTS_DIR = "tenants"
CONNECTIONS_DIR = "connections"
JOURNAL_NAME = "delivered.json"

#: Authority host -> cloud label (the emulator and any loopback endpoint are "emulator").
_CLOUD_OF_AUTHORITY = {
    "login.microsoftonline.com": "public",
    "login.microsoftonline.us": "usgov",
    "login.chinacloudapi.cn": "china",
}
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_SAFE = re.compile(r"[^a-z0-9._-]")


@dataclass(frozen=True)
class TenantKey:
    """Which tenant a state folder belongs to: its cloud (or the emulator) and its tenant ID."""

    cloud: str
    tenant_id: str

    @property
    def parts(self) -> tuple[str, str]:
        return _SAFE.sub("_", self.cloud.lower()), _SAFE.sub("_", self.tenant_id.lower())

    def __str__(self) -> str:
        return f"{self.cloud}/{self.tenant_id}"


def tenant_key(cloud: str, tenant_id: str | None, *, local: bool) -> TenantKey | None:
    """The key of a tenant reached in ``cloud`` (``local``: the emulator or any loopback endpoint)."""
    if not tenant_id:
        return None
    return TenantKey("emulator" if local else cloud, tenant_id.lower())


def find_connection_files(state_dir: PathLike, app_name: str) -> list[Path]:
    """Every tenant's default connection file of ``app_name`` (then the unkeyed one of earlier versions)."""
    root = Path(state_dir).absolute()
    found = sorted(root.glob(f"{TENANTS_DIR}/*/*/{CONNECTIONS_DIR}/{app_name}.json"))
    legacy = root / CONNECTIONS_DIR / f"{app_name}.json"
    return [*found, legacy] if legacy.is_file() else found


def cloud_of_authority(authority: str | None) -> str | None:
    """The cloud label of an authority URL or host (``https://login.microsoftonline.us/...`` -> usgov)."""
    if not authority:
        return None
    host = (urlsplit(authority).hostname if "://" in authority else authority.split("/")[0]) or ""
    host = host.lower()
    if host in _LOOPBACK or host.startswith("127."):
        return "emulator"
    return _CLOUD_OF_AUTHORITY.get(host)


#: The tenant this task works on; ``None`` outside a run (legacy, unkeyed paths).
_TENANT: ContextVar[TenantKey | None] = ContextVar("provisioner_tenant", default=None)


def current_tenant() -> TenantKey | None:
    return _TENANT.get()


def use_tenant(key: TenantKey | None) -> None:
    """Select the tenant folder for the rest of this task (each asyncio task has its own copy)."""
    _TENANT.set(key)


@contextlib.contextmanager
def tenant_scope(key: TenantKey | None) -> Iterator[None]:
    """Select a tenant folder for the duration of a block (synchronous callers and tests)."""
    token = _TENANT.set(key)
    try:
        yield
    finally:
        _TENANT.reset(token)


def tenant_dir(state_dir: PathLike, key: TenantKey | None = None) -> Path:
    """``<state_dir>/tenants/<cloud>/<tenant>``; the state dir itself when no tenant is selected."""
    return Path(_tenant_text(state_dir, key))


def _tenant_text(state_dir: PathLike, key: TenantKey | None = None) -> str:
    return _tenant_folder(os.fspath(state_dir), key or _TENANT.get(), os.getcwd())


@functools.lru_cache(maxsize=64)
def _tenant_folder(state_dir: str, key: TenantKey | None, cwd: str) -> str:
    """:func:`tenant_dir` as text, remembered: a run asks for it several times per app.

    The working directory is part of the key because a relative state dir is taken from it
    (as ``Path.absolute`` does: joined, not normalised).
    """
    root = state_dir if os.path.isabs(state_dir) else os.path.join(cwd, state_dir)
    root = os.fspath(Path(root))  # the spelling Path gives it (no trailing or doubled separators)
    if key is None:
        return root
    cloud, tenant = key.parts
    return os.path.join(root, TENANTS_DIR, cloud, tenant)


def default_sink_path(app_name: str, state_dir: PathLike) -> Path:
    """``<state_dir>/tenants/<cloud>/<tenant>/connections/<app>.json`` (the tool's own copy of the values)."""
    return Path(os.path.join(_tenant_text(state_dir), CONNECTIONS_DIR, f"{app_name}.json"))


def certificate_key_path(app_name: str, cert_name: str, state_dir: PathLike, suffix: str = ".pem") -> Path:
    """``.../connections/<app>.<certificate>.key.pem`` (or ``.pfx``): a generated certificate's private key.

    Beside the default connection file, a stable name per certificate (a rotation replaces the file,
    so a product configured with the path picks the new key up); characters a file name should not
    hold become ``-``.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", cert_name).strip(".") or "certificate"
    kind = ".key" if suffix == ".pem" else ""
    return tenant_dir(state_dir) / CONNECTIONS_DIR / f"{app_name}.{safe}{kind}{suffix}"


def handover_path(app_name: str, state_dir: PathLike) -> Path:
    """``<state_dir>/tenants/<cloud>/<tenant>/handover/<app>.md``: what a person must update after a rotation."""
    return tenant_dir(state_dir) / "handover" / f"{app_name}.md"


def journal_path(state_dir: PathLike) -> Path:
    """``<state_dir>/tenants/<cloud>/<tenant>/delivered.json``."""
    return tenant_dir(state_dir) / JOURNAL_NAME


def legacy_journal_paths(state_dir: PathLike) -> list[Path]:
    """Journals written before state was keyed by tenant (read, never written)."""
    root = Path(state_dir).absolute()
    paths = [root / JOURNAL_NAME]
    with contextlib.suppress(OSError):
        paths += sorted((root / "delivered").glob("*.json"))
    return [p for p in paths if p.is_file()]


def resolve_state_dir(base_dir: PathLike, state_dir: PathLike | None) -> Path:
    """The state directory a caller named, else ``<base_dir>/.provisioner``."""
    return Path(state_dir) if state_dir is not None else Path(base_dir) / ".provisioner"


def _legacy_connection_files(state_dir: Path) -> list[Path]:
    root = state_dir / CONNECTIONS_DIR
    with contextlib.suppress(OSError):
        return sorted(p for p in [*root.glob("*.json"), *root.glob("*/*.json")] if p.is_file())
    return []


def _owner(path: Path) -> TenantKey | None:
    """The tenant a legacy connection file was written for, from its own values."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(values, dict):
        return None
    tenant = values.get("tenant_id")
    authority = values.get("token_url") or values.get("authority") or values.get("authorize_url")
    cloud = cloud_of_authority(authority if isinstance(authority, str) else None)
    if not isinstance(tenant, str) or not tenant or cloud is None:
        return None
    return TenantKey(cloud, tenant.lower())


def migrate_legacy(state_dir: PathLike, key: TenantKey) -> list[tuple[Path, Path]]:
    """Move this tenant's connection files from the unkeyed layout into its folder.

    A file moves only when its own ``tenant_id`` and authority name this tenant and
    the destination does not exist yet (a rename: the value is never rewritten, so
    nothing can be lost half-way). Other tenants' files wait for their own runs.
    Returns the moves made.
    """
    root = Path(state_dir).absolute()
    moved: list[tuple[Path, Path]] = []
    for path in _legacy_connection_files(root):
        if _owner(path) != key:
            continue
        target = tenant_dir(root, key) / CONNECTIONS_DIR / path.name
        if target.exists():
            continue
        ensure_private_dir(target.parent)
        os.replace(path, target)
        moved.append((path, target))
    return moved
