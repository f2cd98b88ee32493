"""Shared helpers of the reliability tests (faults, crashes, concurrency, least privilege, proxies).

The emulator runs in the test process; the tool runs either in-process or as the
real CLI in a subprocess pointed at it through ``RunningEmulator.env()``-style
variables. What the tenant holds afterwards is read straight from the emulator's
store: that is the ground truth duplicates are counted against.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cli_support import base_env, connections_dir, ok, run_cli, tenant_env  # noqa: F401  (ok, run_cli: re-exported)
from oauth_support import client_credentials_form

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "manifests"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
DOT_DEFAULT = "https://graph.microsoft.com/.default"


# ---------------------------------------------------------------- tenants and callers


#: The apps of the scenario manifests in manifests/.
SCENARIO_APPS = {"exchange-connector", "outlook-etl", "logistics-ops", "automation-pkce", "ews-test-tool"}


def fresh_tenant(emulator: Any) -> Any:
    """A brand-new tenant in a running emulator (TenantInfo with its bootstrap admin)."""
    from provisioner.emulator.seed import ensure_tenant

    return ensure_tenant(emulator.ctx, str(uuid.uuid4()))


def token(emulator: Any, tenant_id: str, client_id: str, secret: str) -> str:
    with httpx.Client(verify=str(emulator.ca_cert_path)) as http:
        answer = http.post(
            f"{emulator.base_url}/{tenant_id}/oauth2/v2.0/token",
            data=client_credentials_form(client_id, secret, DOT_DEFAULT),
        )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def admin_http(emulator: Any, tenant: Any) -> httpx.Client:
    """An httpx client for raw Graph calls as the tenant's bootstrap admin (test set-up only)."""
    bearer = token(emulator, tenant.tenant_id, tenant.admin_client_id, tenant.admin_client_secret)
    return httpx.Client(
        base_url=emulator.graph_url,
        verify=str(emulator.ca_cert_path),
        headers={"Authorization": f"Bearer {bearer}"},
    )


@dataclass(frozen=True)
class Caller:
    client_id: str
    secret: str = field(repr=False)
    sp_id: str


def make_caller(emulator: Any, tenant: Any, roles: Iterable[str], *, name: str | None = None) -> Caller:
    """An app in ``tenant`` holding exactly ``roles`` (application permissions on Graph, admin-consented)."""
    name = name or f"caller-{uuid.uuid4().hex[:8]}"
    with admin_http(emulator, tenant) as http:
        graph_sp = http.get(
            "/servicePrincipals", params={"$filter": f"appId eq '{GRAPH_APP_ID}'", "$select": "id,appRoles"}
        ).json()["value"][0]
        role_ids = {r["value"]: r["id"] for r in graph_sp["appRoles"]}
        app = http.post("/applications", json={"displayName": name})
        app.raise_for_status()
        app_body = app.json()
        secret = http.post(
            f"/applications/{app_body['id']}/addPassword",
            json={"passwordCredential": {"displayName": "test"}},
        ).json()["secretText"]
        sp = http.post("/servicePrincipals", json={"appId": app_body["appId"]})
        sp.raise_for_status()
        sp_id = sp.json()["id"]
        for role in roles:
            assigned = http.post(
                f"/servicePrincipals/{graph_sp['id']}/appRoleAssignedTo",
                json={"principalId": sp_id, "resourceId": graph_sp["id"], "appRoleId": role_ids[role]},
            )
            assigned.raise_for_status()
    return Caller(app_body["appId"], secret, sp_id)


def target_for(emulator: Any, tenant: Any, caller: Caller | None = None) -> Any:
    from provisioner.graph.target import Target

    return Target(
        tenant_id=tenant.tenant_id,
        graph_url=emulator.graph_url,
        authority_host=emulator.authority,
        ca_cert_path=str(emulator.ca_cert_path),
        client_id=caller.client_id if caller else tenant.admin_client_id,
        client_secret=caller.secret if caller else tenant.admin_client_secret,
    )


def cli_env(emulator: Any, tenant: Any, caller: Caller | None = None, **extra: str) -> dict[str, str]:
    """Environment for the CLI against a separately running emulator (as `emulator serve` prints)."""
    credential = {"client_id": caller.client_id, "client_secret": caller.secret} if caller else {}
    return {**base_env(), **tenant_env(emulator, tenant, **credential), **extra}


def copy_scenarios(workdir: Path, names: Iterable[str] | None = None) -> Path:
    folder = workdir / "manifests"
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(SCENARIOS.glob("*.yaml")):
        if names is None or path.stem in names:
            (folder / path.name).write_text(path.read_text())
    return folder


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "provisioner", *args]


# ---------------------------------------------------------------- killing at the k-th write


class KillSwitch(dict):  # type: ignore[type-arg]
    """Stands in for ``ctx.counters``: SIGKILLs a process when the emulator counts its k-th write.

    The emulator counts a write (``graph_writes`` and ``graph_writes/<tenant>``) right
    before executing it, in its server thread; the kill happens there and then, so the
    write still completes in the tenant while the client never sees the answer — the
    nastiest crash point. No sleeps: the trigger is the emulator's own bookkeeping.
    Armed per tenant, so runs against different tenants can be killed independently.
    """

    def __init__(self, initial: dict[str, int]) -> None:
        super().__init__(initial)
        self.lock = threading.Lock()
        self.armed: dict[str, tuple[int, int]] = {}  # counter -> (pid, value to kill at)

    def arm(self, pid: int, after_writes: int, tenant_id: str) -> None:
        key = f"graph_writes/{tenant_id}"
        with self.lock:
            self.armed[key] = (pid, self.get(key, 0) + after_writes)

    def disarm(self, tenant_id: str) -> None:
        with self.lock:
            self.armed.pop(f"graph_writes/{tenant_id}", None)

    def __setitem__(self, key: str, value: int) -> None:
        super().__setitem__(key, value)
        if not key.startswith("graph_writes/"):
            return
        with self.lock:
            armed = self.armed.get(key)
            if armed and value >= armed[1]:
                del self.armed[key]
                with contextlib.suppress(ProcessLookupError):
                    os.kill(armed[0], signal.SIGKILL)


def install_kill_switch(emulator: Any) -> KillSwitch:
    switch = KillSwitch(dict(emulator.ctx.counters))
    emulator.ctx.counters = switch
    return switch


def apply_killed_after(
    switch: KillSwitch, writes: int, *, tenant_id: str, manifests: Path, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run `provisioner apply --yes`; SIGKILL it when the emulator has seen ``writes`` more writes."""
    proc = subprocess.Popen(
        cli("apply", str(manifests), "--yes"),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    switch.arm(proc.pid, writes, tenant_id)
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        switch.disarm(tenant_id)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# ---------------------------------------------------------------- what the tenant holds


@dataclass
class Inventory:
    """Duplicates of everything the tool creates, counted from the emulator's store."""

    apps: Counter[str]  # uniqueName -> applications
    sps: Counter[str]  # appId -> service principals
    grants: Counter[tuple[str, str]]  # (client sp, resource sp) -> AllPrincipals grants
    assignments: Counter[tuple[str, str, str]]  # (principal, resource, role) -> assignments
    live_secrets: dict[str, Counter[str]]  # uniqueName -> description -> live secrets
    secret_ids: dict[str, set[str]]  # uniqueName -> live keyIds
    app_ids: dict[str, str]  # uniqueName -> appId

    def duplicates(self) -> list[str]:
        found = [f"application {k} x{n}" for k, n in self.apps.items() if n > 1]
        found += [f"service principal {k} x{n}" for k, n in self.sps.items() if n > 1]
        found += [f"grant {k} x{n}" for k, n in self.grants.items() if n > 1]
        found += [f"assignment {k} x{n}" for k, n in self.assignments.items() if n > 1]
        for app, names in self.live_secrets.items():
            found += [f"secret {app}/{name} x{n}" for name, n in names.items() if n > 1]
        return found


def inventory(emulator: Any, tenant_id: str) -> Inventory:
    store = emulator.ctx.store
    now = emulator.ctx.clock.now()
    apps = [a for a in store.list(tenant_id, "applications") if a.get("uniqueName")]
    app_ids = {a["uniqueName"]: a["appId"] for a in apps}
    live: dict[str, Counter[str]] = {}
    ids: dict[str, set[str]] = {}
    for app in apps:
        names: Counter[str] = Counter()
        for cred in app.get("passwordCredentials") or []:
            end = cred.get("endDateTime")
            if end is None or datetime.fromisoformat(end.replace("Z", "+00:00")) > now.astimezone(UTC):
                names[cred.get("displayName") or ""] += 1
                ids.setdefault(app["uniqueName"], set()).add(str(cred["keyId"]).lower())
        live[app["uniqueName"]] = names
    return Inventory(
        apps=Counter(a["uniqueName"].lower() for a in apps),
        sps=Counter(sp["appId"] for sp in store.list(tenant_id, "servicePrincipals")),
        grants=Counter(
            (g["clientId"], g["resourceId"])
            for g in store.list(tenant_id, "oauth2PermissionGrants")
            if g.get("consentType") == "AllPrincipals"
        ),
        assignments=Counter(
            (a["principalId"], a["resourceId"], a["appRoleId"])
            for a in store.list(tenant_id, "appRoleAssignments")
        ),
        live_secrets=live,
        secret_ids=ids,
        app_ids=app_ids,
    )


def held_key_ids(state_dir: Path, app: str, tenant_id: str | None = None) -> set[str]:
    """keyIds whose values the default connection file of ``app`` holds (in the tenant's folder)."""
    tenant = tenant_id.lower() if tenant_id else "*"
    found = sorted(Path(state_dir).glob(f"tenants/*/{tenant}/connections/{app}.json"))
    if not found:
        return set()
    values = json.loads(found[0].read_text())
    held = {str(s.get("key_id")).lower() for s in values.get("secrets") or [] if s.get("value")}
    if values.get("client_secret") and values.get("client_secret_id"):
        held.add(str(values["client_secret_id"]).lower())
    return held


def orphans(emulator: Any, tenant_id: str, state_dir: Path) -> dict[str, set[str]]:
    """Live secrets of each app that no connection file holds (their value is lost)."""
    inv = inventory(emulator, tenant_id)
    return {
        app: ids - held_key_ids(state_dir, app, tenant_id)
        for app, ids in inv.secret_ids.items()
        if ids - held_key_ids(state_dir, app, tenant_id)
    }


def unheld_never_delivered(emulator: Any, tenant_id: str, state_dir: Path) -> dict[str, set[str]]:
    """Live secrets no connection file holds and the tenant's journal never delivered: nobody has them."""
    found = sorted(Path(state_dir).glob(f"tenants/*/{tenant_id.lower()}/delivered.json"))
    journal = json.loads(found[0].read_text()).get("apps", {}) if found else {}
    out: dict[str, set[str]] = {}
    for app, keys in orphans(emulator, tenant_id, state_dir).items():
        delivered = {str(e.get("key_id", "")).lower() for e in journal.get(app, [])}
        if keys - delivered:
            out[app] = keys - delivered
    return out


def write_requests(emulator: Any, tenant_id: str | None = None) -> int:
    key = f"graph_writes/{tenant_id}" if tenant_id else "graph_writes"
    return int(emulator.ctx.counters.get(key, 0))


def faults_injected(emulator: Any) -> int:
    return int(emulator.ctx.counters.get("faults_injected", 0))


def lost_values(emulator: Any, tenant_id: str, state_dir: Path, manifests: Path) -> list[str]:
    """Declared secrets without a live value in the app's connection file ("data lost")."""
    from provisioner.manifest import validate_paths

    store = emulator.ctx.store
    now = emulator.ctx.clock.now().astimezone(UTC)
    lost = []
    for loaded in validate_paths([str(manifests)]).apps:
        app = loaded.app
        registration = next(
            (a for a in store.list(tenant_id, "applications") if (a.get("uniqueName") or "") == app.name),
            None,
        )
        held = held_key_ids(state_dir, app.name, tenant_id)
        for secret in app.secrets:
            live = {
                str(c["keyId"]).lower()
                for c in (registration or {}).get("passwordCredentials") or []
                if c.get("displayName") == secret.name
                and datetime.fromisoformat(c["endDateTime"].replace("Z", "+00:00")) > now
            }
            if not live & held:
                lost.append(f"{app.name}/{secret.name}")
    return lost
