"""Where the tool talks to: Graph endpoint, login authority, TLS trust, credential.

A :class:`Target` is plain data so the CLI can build one without importing the
SDK; :mod:`provisioner.graph.connect` turns it into a live client. National
clouds have their own Graph and login hosts (Microsoft docs, "National cloud
deployments"): the token audience follows the Graph host, so the cloud decides
the ``.default`` scope too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

Cloud = Literal["public", "usgov", "china"]

# cloud -> (Graph v1.0 base URL, login authority host)
CLOUDS: dict[str, tuple[str, str]] = {
    "public": ("https://graph.microsoft.com/v1.0", "https://login.microsoftonline.com"),
    "usgov": ("https://graph.microsoft.us/v1.0", "https://login.microsoftonline.us"),
    "china": ("https://microsoftgraph.chinacloudapi.cn/v1.0", "https://login.chinacloudapi.cn"),
}

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass
class Target:
    """One Graph endpoint plus how to authenticate against it.

    ``client_id``/``client_secret`` select a client-secret credential (the
    emulator's bootstrap admin, or explicit CI settings); without them the
    tool uses DefaultAzureCredential (environment, workload identity, managed
    identity, Azure CLI, ...). ``tenant_id`` None means "whatever the
    credential's home tenant is".
    """

    tenant_id: str | None
    graph_url: str = "https://graph.microsoft.com/v1.0"
    authority_host: str = "https://login.microsoftonline.com"
    ca_cert_path: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    cloud: str = "public"
    certificate_path: str | None = None  # PEM with private key: certificate credential (--tenants entries)

    @property
    def graph_host(self) -> str:
        return urlsplit(self.graph_url).hostname or ""

    @property
    def is_local(self) -> bool:
        """True for the emulator (or any loopback endpoint): no instance discovery, private CA."""
        return self.graph_host in LOCAL_HOSTS

    @property
    def graph_scope(self) -> str:
        """The ``.default`` scope for Graph in this cloud.

        The emulator issues tokens for the public-cloud audience, so a local
        target keeps the public scope even though its host is ``localhost``.
        """
        if self.is_local:
            return "https://graph.microsoft.com/.default"
        graph_root = CLOUDS.get(self.cloud, CLOUDS["public"])[0].rsplit("/", 1)[0]
        return f"{graph_root}/.default"

    def with_tenant(self, tenant_id: str | None) -> Target:
        """``--tenant`` override; keeps everything else."""
        if not tenant_id:
            return self
        return Target(
            tenant_id=tenant_id,
            graph_url=self.graph_url,
            authority_host=self.authority_host,
            ca_cert_path=self.ca_cert_path,
            client_id=self.client_id,
            client_secret=self.client_secret,
            cloud=self.cloud,
            certificate_path=self.certificate_path,
        )


def target_for_cloud(cloud: str, tenant_id: str | None) -> Target:
    """A Target for Microsoft's public or national clouds (DefaultAzureCredential)."""
    try:
        graph_url, authority = CLOUDS[cloud]
    except KeyError:
        raise ValueError(f"unknown cloud {cloud!r}; use one of: {', '.join(CLOUDS)}") from None
    return Target(tenant_id=tenant_id, graph_url=graph_url, authority_host=authority, cloud=cloud)


def target_from_emulator(running: Any) -> Target:
    """A Target for a running emulator, authenticated as its bootstrap admin app.

    Duck-typed on purpose: importing :mod:`provisioner.emulator` here would pull
    the server into every plan/apply.
    """
    tenant = running.tenant
    return Target(
        tenant_id=tenant.tenant_id,
        graph_url=running.graph_url,
        authority_host=running.authority,
        ca_cert_path=str(running.ca_cert_path) if running.ca_cert_path else None,
        client_id=tenant.admin_client_id,
        client_secret=tenant.admin_client_secret,
        cloud="public",
    )
