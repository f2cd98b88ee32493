"""A stand-in web browser for ``az login`` in tests (``BROWSER="python az_browser.py %s"``).

It signs in on the emulator's page as ``$AZ_BROWSER_UPN``, accepts a consent page if one
is shown, and posts the authorization response (MSAL asks for ``form_post``) to az's
loopback listener, as a person clicking through a real browser would. Python's
``webbrowser`` waits for the browser process to exit while MSAL's listener waits for the
browser, so the work is done by a detached child and the first process returns at once.
Failures go to ``$AZ_BROWSER_LOG``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path

import httpx
from oauth_support import forms


def sign_in(auth_uri: str, upn: str, ca_cert: str) -> None:
    with httpx.Client(verify=ca_cert, follow_redirects=False, timeout=30) as browser:
        page = browser.get(auth_uri)
        if "signin" in forms(page.text):
            signin = forms(page.text)["signin"]
            user = next(b["value"] for b in signin["buttons"] if b.get("data-upn") == upn)
            page = browser.post(
                httpx.URL(auth_uri).join(signin["action"]), data={**signin["fields"], "user": user}
            )
        if "consent" in forms(page.text):
            consent = forms(page.text)["consent"]
            fields = {**consent["fields"], "decision": "accept", "admin_consent": "true"}
            page = browser.post(httpx.URL(auth_uri).join(consent["action"]), data=fields)
        response = forms(page.text).get("response")
        if response is None:
            raise RuntimeError(f"no authorization response: {page.status_code} {page.text[:500]}")
        with httpx.Client(timeout=30) as loopback:  # az's own listener on http://localhost
            loopback.post(response["action"], data=response["fields"])


def main(argv: list[str]) -> int:
    if os.environ.get("AZ_BROWSER_CHILD") != "1":
        subprocess.Popen(
            [sys.executable, __file__, *argv[1:]],
            env={**os.environ, "AZ_BROWSER_CHILD": "1"},
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return 0
    try:
        sign_in(argv[1], os.environ["AZ_BROWSER_UPN"], os.environ["REQUESTS_CA_BUNDLE"])
    except Exception:
        Path(os.environ.get("AZ_BROWSER_LOG", os.devnull)).write_text(traceback.format_exc())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
