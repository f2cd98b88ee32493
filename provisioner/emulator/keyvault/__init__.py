"""Azure Key Vault secrets data plane, served by the emulator at the root of its own origin.

The vault URL is the emulator's base URL (``https://localhost:<port>``, what
``RunningEmulator.vault_url`` and ``GET /_emulator/keyvault`` give): requests go to
``/secrets/...`` and ``/deletedsecrets/...`` exactly as on ``https://<name>.vault.azure.net``.
Not under a path prefix such as ``/keyvault/<name>``: ``azure-keyvault-secrets`` parses every
secret ``id`` the service returns as ``https://host[:port]/secrets/<name>[/<version>]`` (2 or 3
path segments, anything else is a ValueError), so a vault whose URL has a path cannot be used
with the real SDK. One emulator therefore serves one vault; it belongs to one tenant (the first
one seeded, changeable with ``PUT /_emulator/keyvault``), as a real vault does.

Authentication is Key Vault's challenge protocol: a request without a token (the SDK's first,
bodiless one) gets 401 with ``WWW-Authenticate: Bearer authorization="<authority>/<tenant>",
resource="https://vault.azure.net"``; the SDK then asks the emulator's token endpoint for
``https://vault.azure.net/.default`` (the tenant seeds the Azure Key Vault service principal) and
retries with a v1.0 token, which this package verifies (signature, lifetime, audience, issuer =
the vault's tenant). Any principal of the vault's tenant may use every operation: the emulator
models neither access policies nor Azure RBAC.

Clients need, against a loopback vault: ``SecretClient(vault_url, credential,
verify_challenge_resource=False, connection_verify=<emulator CA>)`` -- the SDK otherwise refuses a
challenge whose resource domain (``vault.azure.net``) is not a suffix of the vault's host -- and a
credential with ``authority=<emulator URL>``, ``disable_instance_discovery=True`` and the same CA.
"""
