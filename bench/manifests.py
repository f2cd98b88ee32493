"""Generated manifests for the benchmark: N alike apps, each with the work a real one needs.

Every app has a web redirect URI, delegated and application Microsoft Graph
permissions with admin consent (one delegated grant + one app role
assignment) and one client secret: per app an application, a service
principal, two consent objects and a secret, the objects a fresh apply creates.
"""

from __future__ import annotations

from pathlib import Path

SECRET = "bench secret"


def app_name(index: int) -> str:
    return f"bench-app-{index:03d}"


#: Apps per manifest file: the loader refuses files above 1 MiB (about 2,000 bench apps).
PER_FILE = 1000


def manifest_text(count: int, *, secret_name: str = SECRET, start: int = 0) -> str:
    lines = ["version: 1", "apps:"]
    for index in range(start, start + count):
        lines += [
            f"  - name: {app_name(index)}",
            f"    display_name: Bench app {index:03d}",
            "    audience: multi-tenant",
            "    redirect_uris:",
            f"      web: [https://bench{index}.example.com/callback]",
            "    permissions:",
            "      Microsoft Graph:",
            "        delegated: [User.Read, Mail.Send, offline_access]",
            "        application: [Mail.Read]",
            "    admin_consent: true",
            "    secrets:",
            f"      - name: {secret_name}",
            "        expires_in: 90d",
            "        rotate_before: 10d",
        ]
    return "\n".join(lines) + "\n"


def write_manifests(folder: Path, count: int, *, secret_name: str = SECRET) -> Path:
    """``count`` apps in ``apps.yaml`` (and ``apps-2.yaml``, ... beyond PER_FILE apps)."""
    folder.mkdir(parents=True, exist_ok=True)
    for part, start in enumerate(range(0, max(count, 1), PER_FILE)):
        name = "apps.yaml" if part == 0 else f"apps-{part + 1}.yaml"
        size = min(PER_FILE, count - start)
        (folder / name).write_text(manifest_text(size, secret_name=secret_name, start=start))
    return folder
