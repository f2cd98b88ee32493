"""Delegated tokens and working-connection checks (``provisioner authorize`` / ``verify``).

Plain modules, no CLI: :mod:`pkce` and :mod:`loopback` for the browser leg of the
authorization-code flow, :mod:`token_client` for the v2.0 token endpoint (retries,
AADSTS codes mapped to the typed errors of :mod:`token_errors`), :mod:`token_file` for the
refresh-token file connector products read, :mod:`client_config` for what a run
needs from the connection file, :mod:`authorize_flow` and :mod:`verify` for the two
commands' logic.

Why plain HTTP (httpx) rather than MSAL: MSAL's ``acquire_token_interactive`` owns
the redirect listener (fixed ``http://localhost`` path, its own port choice) and
hides PKCE and ``state``; its token cache would have to be unpacked to produce the
file format products want, and it reports failures as dicts whose AADSTS numbers
we would re-parse anyway. The flow is three small, documented requests; doing them
with httpx gives exact control of the redirect URI the manifest registered, of
``prompt``, of retries on 429/503 with ``Retry-After``, and of the error codes
(revoked vs expired refresh token, expired vs invalid secret) the commands report.
httpx also honours ``HTTPS_PROXY``/``NO_PROXY`` like every other client here.
"""
