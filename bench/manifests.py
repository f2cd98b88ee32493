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


def manifest_text(count: int, *, secret_name: str = SECRET) -> str:
    lines = ["version: 1", "apps:"]
    for index in range(count):
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
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "apps.yaml"
    path.write_text(manifest_text(count, secret_name=secret_name))
    return folder
