"""The browser launcher keeps authorize's stdout for the JSON result."""

from __future__ import annotations

import os
import subprocess
import sys


def test_browser_output_goes_to_stderr() -> None:
    env = {**os.environ, "BROWSER": "echo browser-noise %s"}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from provisioner.oauth.browser import open_in_browser; print(open_in_browser('https://x.test/a'))",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "True\n"
    assert "browser-noise https://x.test/a" in proc.stderr
