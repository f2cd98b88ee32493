"""Open the sign-in URL in the user's browser without spoiling stdout.

``webbrowser`` starts browsers as child processes that inherit our file
descriptors, and some write to stdout; ``authorize`` keeps stdout for its one
JSON result, so fd 1 points at stderr while the browser is started.
"""

from __future__ import annotations

import os
import sys
import webbrowser


def open_in_browser(url: str) -> bool:
    """True when a browser was started (it may still fail to show the page)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (embedded use): nothing to protect
        return webbrowser.open(url)
    try:
        os.dup2(2, 1)
        return webbrowser.open(url)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
