"""Every environment variable the tool reads, named once.

Modules ask :func:`env` for a value instead of spelling variable names (and
their empty-means-unset rule) themselves, so ``grep settings.`` finds every
knob a user can turn from the environment. The emulator, a separate product,
has its own.
"""

from __future__ import annotations

import os

#: Graph endpoint of a separately running emulator (printed by ``provisioner emulator serve``).
GRAPH_URL = "PROVISIONER_GRAPH_URL"
#: CA certificate that signs that emulator's TLS certificate.
CA_CERT = "PROVISIONER_CA_CERT"
#: Default for ``--state-dir``.
STATE_DIR = "PROVISIONER_STATE_DIR"
#: Any non-empty value turns library logging on (stderr).
DEBUG = "PROVISIONER_DEBUG"
#: Retry bounds (docs/reliability.md).
MAX_RETRIES = "PROVISIONER_MAX_RETRIES"
RETRY_MAX_WAIT = "PROVISIONER_RETRY_MAX_WAIT"
REPLICATION_TIMEOUT = "PROVISIONER_REPLICATION_TIMEOUT"
#: azure-identity's own variables, read where the tool needs the same values.
AZURE_TENANT_ID = "AZURE_TENANT_ID"
AZURE_CLIENT_ID = "AZURE_CLIENT_ID"
AZURE_CLIENT_SECRET = "AZURE_CLIENT_SECRET"
AZURE_AUTHORITY_HOST = "AZURE_AUTHORITY_HOST"
#: The file GitHub Actions reads step outputs from.
GITHUB_OUTPUT = "GITHUB_OUTPUT"
#: ``true`` inside a GitHub Actions step: only then does the github sink print ``::add-mask::`` lines.
GITHUB_ACTIONS = "GITHUB_ACTIONS"

#: Tokens the github_secret sink writes Actions secrets with (first one set wins), unless the sink
#: names its own variable (``token_env``), e.g. one holding a GitHub App installation token.
GITHUB_TOKEN = "GITHUB_TOKEN"
GH_TOKEN = "GH_TOKEN"
#: CA certificate (PEM) the github_secret sink trusts for its API URL besides the system's: a GitHub
#: Enterprise Server with a private CA, or the tests' loopback stand-in.
GITHUB_CA_CERT = "PROVISIONER_GITHUB_CA_CERT"


def running_in_github_actions() -> bool:
    """True inside a GitHub Actions step (the runner sets ``GITHUB_ACTIONS=true``)."""
    return (env(GITHUB_ACTIONS) or "").strip().lower() == "true"


def env(name: str) -> str | None:
    """The variable's value, or ``None`` when it is unset or empty."""
    return os.environ.get(name) or None


#: Alerts (issue 13): where ``status``/``rotate`` post events, and in which format.
WEBHOOK_URL = "PROVISIONER_WEBHOOK_URL"
WEBHOOK_FORMAT = "PROVISIONER_WEBHOOK_FORMAT"
