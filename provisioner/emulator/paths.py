"""Where the emulator's surfaces are mounted; middlewares tell them apart by these prefixes."""

from __future__ import annotations

ADMIN_PREFIX = "/_emulator"
GRAPH_PREFIX = "/v1.0"
ARM_PREFIX = "/arm"  # Azure Resource Manager: the calls clients make at sign-in (emulator.arm)
BATCH_PATH = GRAPH_PREFIX + "/$batch"
BETA_PREFIX = "/beta"  # only the endpoints v1.0 lacks (sign-in logs with the credential keyId)
