"""What every emulator service shares: state, clock, and where it is served.

Passed explicitly to route factories (no module globals), so one process can run
several emulators side by side in tests.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from provisioner.emulator.clock import Clock
from provisioner.emulator.store import Store


@dataclass
class EmulatorContext:
    store: Store
    clock: Clock = field(default_factory=Clock)
    # Set once the socket is bound, e.g. "https://localhost:8443" (no trailing slash).
    base_url: str = "https://localhost:8443"
    # Fault injection settings (latency, throttling, 5xx, replication lag); see faults.py.
    faults: Any = None
    # Counters the benchmark and tests read: {"graph_requests": n, "token_requests": n, ...}.
    counters: dict[str, int] = field(default_factory=dict)
    # Bearer token the admin routes (/_emulator/...) require; new for every emulator started.
    # repr=False: like a client secret, it must never reach logs or test output.
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n
