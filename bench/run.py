"""``make bench``: the tool against the naive baseline, through the real CLI, over HTTPS with latency.

Not a test (it measures, it does not assert): it prints a table and writes
``bench-results.json`` for tracking. What it does:

1. starts the emulator in its own process (``provisioner emulator serve``), so
   the emulator and the tool do not share a core, and injects a fixed latency
   per HTTP request (default 50 ms; ``FaultConfig.latency_ms``, token endpoint
   included). Real Graph charges one round trip per ``$batch`` HTTP request, and
   so does the emulator: latency is applied in front of the HTTP request, not
   per inner request of a batch;
2. for N = 1, 10, 100 generated apps (``bench/manifests.py``) runs, each on a
   fresh tenant: the tool's ``apply`` (fresh: create everything, consent, mint
   secrets), ``plan`` (no changes) and ``rotate --force`` (mint a new secret for
   every app), each as a CLI subprocess exactly as a user runs it; then the same
   three through the naive baseline (``bench/naive.py``: one SDK call per
   object, sequential) on another fresh tenant;
3. counts Graph round trips at the emulator (``GET /_emulator/counters``: HTTP
   requests under /v1.0, and token requests) and wall time per command, and the
   speed-up of the tool over the baseline measured in the same run;
4. times ``provisioner --help`` and ``provisioner validate`` of the 100 apps.

Wall times include the interpreter start and imports of each subprocess, for
the tool and the baseline alike. Round trips are reported as Graph HTTP
requests + token requests ("+1" is the token request).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.manifests import write_manifests  # noqa: E402

SIZES = (1, 10, 100)
OPS = ("plan", "apply", "rotate")
TARGETS = {
    "plan_100_round_trips": 10,  # HTTP requests incl. the token request
    "plan_100_wall_s": 2.0,
    "apply_100_speedup": 10.0,
    "help_s": 0.3,
    "validate_100_s": 1.0,
}


@dataclass
class Measure:
    graph_requests: int
    token_requests: int
    wall_s: float
    detail: str = ""

    @property
    def round_trips(self) -> int:
        return self.graph_requests + self.token_requests


@dataclass
class Row:
    op: str
    n: int
    tool: Measure
    naive: Measure
    note: str = ""
    speedup: float = field(init=False)

    def __post_init__(self) -> None:
        self.speedup = round(self.naive.wall_s / self.tool.wall_s, 1) if self.tool.wall_s else 0.0


class Emulator:
    """``provisioner emulator serve`` in a subprocess, driven through its admin routes."""

    def __init__(self, workdir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "provisioner", "emulator", "serve", "--json", "--port", "0"],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            env=_clean_env(),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("bench: the emulator did not start")
        self.info: dict[str, Any] = json.loads(line)
        self.http = httpx.Client(
            base_url=f"{self.info['url']}/_emulator",
            verify=self.info["ca_cert"],
            timeout=60,
            headers={"Authorization": f"Bearer {self.info['admin_token']}"},
        )

    def faults(self, **settings: Any) -> None:
        self.http.put("/faults", json=settings).raise_for_status()

    def tenant(self) -> dict[str, Any]:
        answer = self.http.post("/tenants", json={"tenant_id": str(uuid.uuid4())})
        answer.raise_for_status()
        return dict(answer.json())

    def reset_counters(self) -> None:
        self.http.delete("/counters").raise_for_status()

    def counters(self) -> dict[str, int]:
        return dict(self.http.get("/counters").json())

    def env(self, tenant: dict[str, Any]) -> dict[str, str]:
        env = _clean_env()
        env.update(
            {
                "PROVISIONER_GRAPH_URL": self.info["graph_url"],
                "AZURE_AUTHORITY_HOST": self.info["authority"],
                "PROVISIONER_CA_CERT": self.info["ca_cert"],
                "AZURE_TENANT_ID": tenant["tenant_id"],
                "AZURE_CLIENT_ID": tenant["admin_client_id"],
                "AZURE_CLIENT_SECRET": tenant["admin_client_secret"],
            }
        )
        return env

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "PROVISIONER_", "GITHUB_"))}


def provisioner_cmd() -> list[str]:
    script = Path(sys.executable).with_name("provisioner")
    return [str(script)] if script.exists() else [sys.executable, "-m", "provisioner"]


def run(
    emulator: Emulator, cmd: list[str], env: dict[str, str], cwd: Path, ok: tuple[int, ...] = (0,)
) -> Measure:
    emulator.reset_counters()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    counts = emulator.counters()
    if proc.returncode not in ok:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"bench: {' '.join(cmd[-4:])} exited {proc.returncode}: {' | '.join(tail)}")
    return Measure(counts.get("graph_requests", 0), counts.get("token_requests", 0), round(wall, 3))


def best_of(times: int, cmd: list[str], cwd: Path) -> float:
    best = float("inf")
    for _ in range(times):
        started = time.perf_counter()
        subprocess.run(
            cmd, cwd=cwd, env=_clean_env(), capture_output=True, check=True, stdin=subprocess.DEVNULL
        )
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def has_rotate() -> bool:
    proc = subprocess.run([*provisioner_cmd(), "rotate", "--help"], capture_output=True, env=_clean_env())
    return proc.returncode == 0


def measure_size(emulator: Emulator, root: Path, n: int, rotate_cmd: bool) -> list[Row]:
    base = root / f"n{n}"
    tool_dir, naive_dir = base / "tool", base / "naive"
    for folder in (tool_dir, naive_dir):
        write_manifests(folder / "manifests", n)
    tool_env, naive_env = emulator.env(emulator.tenant()), emulator.env(emulator.tenant())
    cli = provisioner_cmd()
    naive = [sys.executable, str(REPO / "bench" / "naive.py")]
    state = ["--state-dir", ".provisioner"]

    tool: dict[str, Measure] = {}
    tool["apply"] = run(emulator, [*cli, "apply", "manifests", "--yes", *state], tool_env, tool_dir)
    tool["plan"] = run(
        emulator, [*cli, "plan", "manifests", "--detailed-exitcode", *state], tool_env, tool_dir
    )
    if rotate_cmd:
        tool["rotate"] = run(
            emulator, [*cli, "rotate", "manifests", "--force", "--yes", *state], tool_env, tool_dir
        )
        note = "rotate --force"
    else:  # no rotate command yet: mint by renaming the secret (apply mints the new one, removes the old)
        write_manifests(tool_dir / "manifests", n, secret_name="bench secret 2")
        tool["rotate"] = run(emulator, [*cli, "apply", "manifests", "--yes", *state], tool_env, tool_dir)
        note = "apply with a renamed secret (no rotate command)"

    base_line = {
        op: run(emulator, [*naive, op, "manifests"], naive_env, naive_dir)
        for op in ("apply", "plan", "rotate")
    }
    return [Row(op, n, tool[op], base_line[op], note if op == "rotate" else "") for op in OPS]


def table(rows: list[Row], startup: dict[str, float], latency_ms: int) -> str:
    head = f"{'operation':<18} {'N':>4} {'round trips tool':>17} {'naive':>7} {'wall s tool':>12} {'naive':>8} {'speed-up':>9}"
    lines = [
        f"provisioner bench: {latency_ms} ms per HTTP request (round trips = Graph HTTP requests + token)",
        head,
    ]
    lines.append("-" * len(head))
    for row in rows:
        label = {"plan": "plan (no change)", "apply": "apply (fresh)", "rotate": "rotate"}[row.op]
        lines.append(
            f"{label:<18} {row.n:>4} {f'{row.tool.graph_requests}+{row.tool.token_requests}':>17}"
            f" {f'{row.naive.graph_requests}+{row.naive.token_requests}':>7}"
            f" {row.tool.wall_s:>12.2f} {row.naive.wall_s:>8.2f} {row.speedup:>8.1f}x"
        )
    lines.append("")
    lines.append(
        f"provisioner --help: {startup['help_s']:.2f} s; validate of 100 apps: {startup['validate_100_s']:.2f} s"
    )
    notes = sorted({r.note for r in rows if r.note})
    lines += [f"note: rotate = {n}" for n in notes]
    return "\n".join(lines)


def verdicts(rows: list[Row], startup: dict[str, float]) -> dict[str, dict[str, Any]]:
    by = {(r.op, r.n): r for r in rows}
    found: dict[str, float] = dict(startup)
    if ("plan", 100) in by:
        found["plan_100_round_trips"] = by["plan", 100].tool.round_trips
        found["plan_100_wall_s"] = by["plan", 100].tool.wall_s
    if ("apply", 100) in by:
        found["apply_100_speedup"] = by["apply", 100].speedup
    result = {}
    for name, limit in TARGETS.items():
        if name not in found:
            continue
        value = found[name]
        met = (
            value >= limit
            if name.endswith("speedup")
            else value <= limit
            if "round_trips" in name
            else value < limit
        )
        result[name] = {"value": value, "target": limit, "met": met}
    return result


@contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="provisioner-bench-"))
    try:
        yield root
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated app counts")
    parser.add_argument("--out", default=str(REPO / "bench-results.json"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    with workspace(args.keep) as root:
        write_manifests(root / "validate", 100)
        startup = {
            "help_s": best_of(5, [*provisioner_cmd(), "--help"], root),
            "validate_100_s": best_of(3, [*provisioner_cmd(), "validate", "validate"], root),
        }
        emulator = Emulator(root)
        try:
            emulator.faults(latency_ms=args.latency_ms, include_identity=True)
            rotate_cmd = has_rotate()
            rows: list[Row] = []
            for n in sizes:
                rows += measure_size(emulator, root, n, rotate_cmd)
                print(f"bench: N={n} done", file=sys.stderr, flush=True)
        finally:
            emulator.stop()
    print(table(rows, startup, args.latency_ms))
    checks = verdicts(rows, startup)
    for name, check in checks.items():
        print(
            f"target {name}: {check['value']} (target {check['target']}): {'met' if check['met'] else 'MISSED'}"
        )
    payload = {
        "latency_ms": args.latency_ms,
        "python": sys.version.split()[0],
        "startup": startup,
        "rows": [{**asdict(r), "tool": {**asdict(r.tool)}, "naive": {**asdict(r.naive)}} for r in rows],
        "targets": checks,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
