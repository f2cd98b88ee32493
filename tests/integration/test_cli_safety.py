"""The CLI's safety rules, through the real CLI against the emulator (issue 12).

* deleting needs consent: ``destroy``, ``destroy --purge`` and ``apply --prune`` with no terminal
  and no ``--yes`` refuse with one line before any Graph write;
* every writing command holds the state directory's lock (destroy and restore wait for it), and a
  lock that cannot be created is one line, not a traceback;
* files and folders are 0600/0700 under ``umask 000``;
* ``--json`` stdout stays valid JSON with a github sink; mask lines go to stderr, only under Actions;
* absurd durations are one located line at validate and at apply (no Graph write);
* error lines escape control characters.

Ground truth is read from the emulator's store (:func:`reliability_support.inventory`), never
from the tool's own files, whose layout other work is changing.
"""

from __future__ import annotations

import json
import os
import pty
import queue
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_support import base_env, cli_env, fresh_tenant, inventory, ok, run_cli, write_requests

from provisioner.core.locking import apply_lock

pytestmark = pytest.mark.slow


def manifest(name: str, *, sinks: str = "", secret: str = "") -> str:
    return (
        "apps:\n"
        f"  - name: {name}\n"
        f"    display_name: {name.title()} service\n"
        "    secrets:\n"
        "      - name: default\n"
        f"{secret}"
        f"{sinks}"
    )


def write_manifests(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.yaml").write_text(manifest(name))


def apps_in(emulator: Any, tenant: Any) -> set[str]:
    return set(inventory(emulator, tenant.tenant_id).apps)


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def tenant(emulator: Any) -> Any:
    return fresh_tenant(emulator)


@pytest.fixture
def env(emulator: Any, tenant: Any) -> dict[str, str]:
    return cli_env(emulator, tenant)


# ------------------------------------------------------------------------------ consent to delete


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("destroy", "m"), "destroy deletes applications"),
        (("destroy", "m", "--purge"), "destroy --purge deletes applications for good"),
        (("apply", "m", "--prune"), "apply --prune deletes"),
    ],
    ids=["destroy", "destroy-purge", "apply-prune"],
)
def test_deleting_without_a_terminal_needs_yes(
    emulator: Any, tenant: Any, env: dict[str, str], tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    write_manifests(tmp_path / "m", "alpha", "beta")
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env))
    if "--prune" in args:
        (tmp_path / "m" / "beta.yaml").unlink()  # beta is now pruned by apply --prune
    writes = write_requests(emulator, tenant.tenant_id)

    refused = run_cli(*args, cwd=tmp_path, env=env)  # stdin is /dev/null: no terminal, as in cron
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr  # one line, nothing else on stderr
    (line,) = error_lines(refused)
    assert line.startswith(f"error: {says}") and line.endswith("pass --yes to go ahead; nothing was changed")
    assert write_requests(emulator, tenant.tenant_id) == writes
    assert apps_in(emulator, tenant) == {"alpha", "beta"}

    ok(run_cli(*args, "--yes", cwd=tmp_path, env=env))  # consent given: the deletion happens
    assert apps_in(emulator, tenant) == ({"alpha"} if "--prune" in args else set())


def test_converging_without_a_terminal_still_goes_ahead(
    emulator: Any, tenant: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """apply (and rotate) without --prune delete nothing: no terminal still means 'go ahead', as before."""
    write_manifests(tmp_path / "m", "alpha")
    ok(run_cli("apply", "m", cwd=tmp_path, env=env))
    assert apps_in(emulator, tenant) == {"alpha"}
    ok(run_cli("rotate", "m", "--force", cwd=tmp_path, env=env))
    assert sum(inventory(emulator, tenant.tenant_id).live_secrets["alpha"].values()) == 2


def test_on_a_terminal_destroy_asks_and_no_keeps_everything(
    emulator: Any, tenant: Any, env: dict[str, str], tmp_path: Path
) -> None:
    write_manifests(tmp_path / "m", "alpha")
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env))
    writes = write_requests(emulator, tenant.tenant_id)
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"no\n")  # typed ahead: the terminal keeps the line until destroy reads it
        proc = subprocess.run(
            [sys.executable, "-m", "provisioner", "destroy", "m", "--purge"],
            cwd=tmp_path,
            env=env,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Delete these applications? Only 'yes' is accepted" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The prompt leaves the cursor on its line; the refusal follows it.
    assert proc.stderr.endswith("Only 'yes' is accepted: error: destroy cancelled; nothing was deleted\n")
    assert write_requests(emulator, tenant.tenant_id) == writes
    assert apps_in(emulator, tenant) == {"alpha"}


# ------------------------------------------------------------------------------ the state-dir lock


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> list[str]:
    """stderr lines up to the one holding ``needle``; fails at EOF or after ``timeout`` s without it.

    A reader thread feeds a queue so the wait is bounded: a run that blocks on the lock without
    saying so must fail the test, not hang it.
    """
    assert proc.stderr is not None
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put("")  # EOF

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {needle!r} within {timeout} s: {''.join(seen)}") from None
        if not line:
            raise AssertionError(f"exited {proc.wait()} without {needle!r}: {''.join(seen)}")
        seen.append(line)
        if needle in line:
            return seen


@pytest.fixture
def popen_cleanup() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


@pytest.mark.parametrize(
    "command",
    [("destroy", "m", "--yes"), ("restore", "--name", "alpha")],
    ids=["destroy", "restore"],
)
def test_destroy_and_restore_wait_for_the_lock(
    emulator: Any,
    tenant: Any,
    env: dict[str, str],
    tmp_path: Path,
    command: tuple[str, ...],
    popen_cleanup: list[subprocess.Popen[str]],
) -> None:
    write_manifests(tmp_path / "m", "alpha")
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env))
    if command[0] == "restore":
        ok(run_cli("destroy", "m", "--yes", cwd=tmp_path, env=env))
        assert apps_in(emulator, tenant) == set()
    expected_after = set() if command[0] == "destroy" else {"alpha"}
    before = apps_in(emulator, tenant)

    with apply_lock(tmp_path / ".provisioner"):  # another writing run holds the state directory
        proc = subprocess.Popen(
            [sys.executable, "-m", "provisioner", *command],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        popen_cleanup.append(proc)
        _wait_for_line(proc, f"waiting for another run (pid {os.getpid()})")
        assert proc.poll() is None
        assert apps_in(emulator, tenant) == before  # nothing done while the lock is held
    assert proc.wait(timeout=120) == 0, proc.stdout.read() if proc.stdout else ""
    assert apps_in(emulator, tenant) == expected_after


@pytest.mark.parametrize("command", ["apply", "rotate", "destroy", "restore"])
def test_a_state_dir_that_cannot_be_created_is_one_line(
    emulator: Any, tenant: Any, env: dict[str, str], tmp_path: Path, command: str
) -> None:
    write_manifests(tmp_path / "m", "alpha")
    (tmp_path / "blocker").write_text("a file where the state directory's parent should be\n")
    args = ["restore", "--name", "alpha"] if command == "restore" else [command, "m", "--yes"]
    writes = write_requests(emulator, tenant.tenant_id)
    proc = run_cli(*args, "--state-dir", "blocker/state", cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert error_lines(proc) == ["error: cannot create the state directory blocker/state: Not a directory"]
    assert write_requests(emulator, tenant.tenant_id) == writes


def test_a_lock_file_that_cannot_be_opened_is_one_line(
    emulator: Any, tenant: Any, env: dict[str, str], tmp_path: Path
) -> None:
    write_manifests(tmp_path / "m", "alpha")
    (tmp_path / ".provisioner" / "apply.lock").mkdir(parents=True)
    proc = run_cli("apply", "m", "--yes", cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert error_lines(proc) == ["error: cannot create the lock file .provisioner/apply.lock: Is a directory"]
    assert apps_in(emulator, tenant) == set()


# ------------------------------------------------------------------------------ umask 000


@pytest.fixture(scope="module")
def modes_under_umask_000(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bool, int]]:
    """``apply --emulator`` with sinks in new folders under ``umask 000``: (is a folder, mode) per path."""
    workdir = tmp_path_factory.mktemp("umask")
    sinks = (
        "    sinks:\n"
        "      - type: json\n"
        "        path: out/deep/alpha.json\n"
        "      - type: dotenv\n"
        "        path: out/env/alpha.env\n"
    )
    (workdir / "m.yaml").write_text(manifest("alpha", sinks=sinks))
    proc = subprocess.run(
        [sys.executable, "-m", "provisioner", "apply", "m.yaml", "--emulator", "--yes"],
        cwd=workdir,
        env=base_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        preexec_fn=lambda: os.umask(0),  # the point of the test
    )
    ok(proc)
    return {
        path.relative_to(workdir).as_posix(): (path.is_dir(), stat.S_IMODE(path.lstat().st_mode))
        for root in (workdir / ".provisioner", workdir / "out")
        for path in [root, *root.rglob("*")]
    }


def test_files_and_folders_are_private_under_umask_000(
    modes_under_umask_000: dict[str, tuple[bool, int]],
) -> None:
    modes = modes_under_umask_000
    folders = {name for name, (is_dir, _) in modes.items() if is_dir}
    assert {".provisioner", ".provisioner/emulator-tls", "out", "out/deep", "out/env"} <= folders
    assert {"out/deep/alpha.json", "out/env/alpha.env", ".provisioner/apply.lock"} <= set(modes) - folders
    wrong = {
        name: oct(mode)
        for name, (is_dir, mode) in modes.items()
        if mode != (0o700 if is_dir else 0o600)
        and name != ".provisioner/emulator.port"  # written by engine/targeting.py: see the next test
    }
    assert wrong == {}


def test_the_emulator_port_file_is_private_under_umask_000(
    modes_under_umask_000: dict[str, tuple[bool, int]],
) -> None:
    assert modes_under_umask_000[".provisioner/emulator.port"] == (False, 0o600)


# ------------------------------------------------------------------------------ --json and GitHub masks


def github_outputs(text: str) -> dict[str, str]:
    """``name<<DELIMITER`` heredocs of a $GITHUB_OUTPUT file."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, delimiter = line.split("<<", 1)
        body: list[str] = []
        for value_line in lines:
            if value_line == delimiter:
                break
            body.append(value_line)
        outputs[name] = "\n".join(body)
    return outputs


@pytest.mark.parametrize("in_actions", [True, False], ids=["in-actions", "elsewhere"])
def test_apply_json_with_a_github_sink_keeps_stdout_json(
    emulator: Any, tenant: Any, tmp_path: Path, in_actions: bool
) -> None:
    sinks = "    sinks:\n      - type: github\n        prefix: alpha_\n"
    (tmp_path / "m.yaml").write_text(manifest("alpha", sinks=sinks))
    github_output = tmp_path / "github_output"
    extra = {"GITHUB_OUTPUT": str(github_output)}
    if in_actions:
        extra["GITHUB_ACTIONS"] = "true"
    proc = ok(
        run_cli("apply", "m.yaml", "--yes", "--json", cwd=tmp_path, env=cli_env(emulator, tenant, **extra))
    )

    document = json.loads(proc.stdout)  # the whole of stdout is one JSON document
    assert document["schema_version"] == 1
    secret = github_outputs(github_output.read_text())["alpha_client_secret"]
    assert len(secret) > 20
    assert secret not in proc.stdout
    mask = f"::add-mask::{secret}"
    if in_actions:
        assert mask in proc.stderr.splitlines()
        assert secret not in proc.stderr.replace(mask, "")  # only inside the mask command
    else:
        assert "::add-mask::" not in proc.stderr and secret not in proc.stderr


# ------------------------------------------------------------------------------ durations


@pytest.mark.parametrize("duration", ["1000000000d", "100000y", "99999999999999999999999999m"])
def test_an_absurd_duration_is_one_located_line_at_validate(tmp_path: Path, duration: str) -> None:
    secret = f"        expires_in: {duration}\n        allow_long_lifetime: true\n"
    (tmp_path / "m.yaml").write_text(manifest("alpha", secret=secret))
    proc = run_cli("validate", "m.yaml", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (line,) = error_lines(proc)
    assert line.startswith("error: m.yaml:6:") and f"invalid duration '{duration}': must be at most" in line


def test_a_lifetime_past_year_9999_fails_apply_before_any_graph_write(
    emulator: Any, tenant: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """100000y with allow_long_lifetime passed validate and crashed apply computing the end date."""
    secret = "        expires_in: 100000y\n        allow_long_lifetime: true\n"
    (tmp_path / "m.yaml").write_text(manifest("alpha", secret=secret))
    writes = write_requests(emulator, tenant.tenant_id)
    proc = run_cli("apply", "m.yaml", "--yes", cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (line,) = error_lines(proc)
    assert line.startswith("error: m.yaml:6:") and "100000y" in line
    assert write_requests(emulator, tenant.tenant_id) == writes
    assert apps_in(emulator, tenant) == set()


def test_the_longest_lifetime_applies(
    emulator: Any, tenant: Any, env: dict[str, str], tmp_path: Path
) -> None:
    secret = "        expires_in: 1000y\n        allow_long_lifetime: true\n"
    (tmp_path / "m.yaml").write_text(manifest("alpha", secret=secret))
    ok(run_cli("apply", "m.yaml", "--yes", cwd=tmp_path, env=env))
    assert sum(inventory(emulator, tenant.tenant_id).live_secrets["alpha"].values()) == 1


# ------------------------------------------------------------------------------ control characters


def test_error_lines_escape_control_and_bidi_characters(env: dict[str, str], tmp_path: Path) -> None:
    write_manifests(tmp_path / "m", "alpha")
    hostile = "nope\x1b[2J\rNo changes.\u202e\u2028fake"
    proc = run_cli("destroy", "m", "--yes", "--app", hostile, cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (line,) = error_lines(proc)
    assert "nope\\x1b[2J\\x0dNo changes.\\u202e\\u2028fake" in line
    for raw in ("\x1b", "\r", "\u202e", "\u2028"):
        assert raw not in proc.stderr + proc.stdout
