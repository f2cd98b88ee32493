"""The manifest model: what a user declares, validated by pydantic.

This is the contract between the YAML a user writes, the JSON Schema editors
use (``provisioner schema``), and the planner. Field names are snake_case in
YAML; Graph names are produced by the planner, never typed by users.
Structural checks live here; checks that need the permission catalogue
(unknown permission names, privileged opt-in) live in ``manifest.validate``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from provisioner.core.durations import parse_duration
from provisioner.core.text import has_unsafe
from provisioner.model.dotenv_format import PREFIX, Dialect

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
#: Longest duration a manifest may name. Far beyond any sensible secret lifetime, it keeps "now +
#: duration" inside the dates Python (and Graph) can represent, so a typo is one located error.
MAX_DURATION_DAYS = 1000 * 365
#: Key Vault secret names: 1-127 letters, digits and dashes.
KEYVAULT_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")


class _Strict(BaseModel):
    # forbid: a typo ("redirect_uri:") is an error, not a silently ignored key.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Audience(StrEnum):
    """Who can sign in; maps 1:1 onto Graph's ``signInAudience``."""

    SINGLE_TENANT = "single-tenant"
    MULTI_TENANT = "multi-tenant"
    MULTI_TENANT_AND_PERSONAL = "multi-tenant-and-personal"
    PERSONAL = "personal"

    @property
    def sign_in_audience(self) -> str:
        return {
            "single-tenant": "AzureADMyOrg",
            "multi-tenant": "AzureADMultipleOrgs",
            "multi-tenant-and-personal": "AzureADandPersonalMicrosoftAccount",
            "personal": "PersonalMicrosoftAccount",
        }[self.value]

    @property
    def authority_segment(self) -> str | None:
        """The tenant segment of authorize/token URLs; None means "the tenant ID"."""
        return {
            "single-tenant": None,
            "multi-tenant": "organizations",
            "multi-tenant-and-personal": "common",
            "personal": "consumers",
        }[self.value]

    @classmethod
    def from_sign_in_audience(cls, value: str) -> Audience:
        for member in cls:
            if member.sign_in_audience == value:
                return member
        raise ValueError(f"unknown signInAudience {value!r}")


def _duration(value: str) -> str:
    """A duration the rest of the tool can add to a date without overflowing.

    ``parse_duration`` raises DurationError (a ValueError) for bad syntax, but an enormous
    number (``1000000000d``) overflows ``timedelta`` itself; both become one located error.
    """
    try:
        delta = parse_duration(value)
    except OverflowError:
        delta = None
    if delta is None or delta.days > MAX_DURATION_DAYS:
        raise ValueError(f"duration {value!r} is too long: at most {MAX_DURATION_DAYS // 365}y")
    return value


def _sink_path(value: str) -> str:
    """A file path a sink can write: not blank, no control, bidi or separator characters (NUL included)."""
    if not value.strip():
        raise ValueError("path must not be empty")
    if has_unsafe(value):
        raise ValueError("path holds a control, bidi or line-separator character")
    return value


class RedirectUris(_Strict):
    web: list[str] = Field(default_factory=list, description="Web platform redirect URIs (exact match).")
    spa: list[str] = Field(default_factory=list, description="Single-page application redirect URIs.")
    public_client: list[str] = Field(
        default_factory=list, description="Public client / native (mobile & desktop) redirect URIs."
    )


class ImplicitGrant(_Strict):
    access_tokens: bool = False
    id_tokens: bool = False


class ResourcePermissions(_Strict):
    delegated: list[str] = Field(default_factory=list, description="Delegated permission (scope) names.")
    application: list[str] = Field(
        default_factory=list, description="Application permission (app role) names."
    )


class Secret(_Strict):
    name: str = Field(min_length=1, max_length=120, description="Shown as the secret's description in Entra.")
    expires_in: str = Field(default="180d", description="Lifetime of each minted secret, e.g. 180d, 12mo.")
    rotate_before: str = Field(default="30d", description="Mint a replacement this long before expiry.")
    overlap: str = Field(default="7d", description="Keep the previous secret valid this long after rotation.")
    allow_long_lifetime: bool = Field(
        default=False, description="Opt in to lifetimes above 2 years (against Microsoft's recommendation)."
    )

    _check_durations = field_validator("expires_in", "rotate_before", "overlap")(_duration)

    # -- evidence before retirement (issue 13): sign-in logs decide when a replaced secret may go --
    quiet_period: str = Field(
        default="3d",
        description="Retire the replaced secret only after its keyId went unused (no sign-in) this long.",
    )
    require_new_secret_used: bool = Field(
        default=False, description="Also wait until the new secret's keyId has signed in at least once."
    )
    retire_without_evidence: Literal["overlap", "never"] = Field(
        default="overlap",
        description="Without sign-in evidence (no AuditLog.Read.All, no P1/P2 licence): retire after "
        "overlap (overlap) or keep the replaced secret until it expires (never).",
    )
    _check_quiet = field_validator("quiet_period")(_duration)

    @property
    def quiet(self) -> timedelta:
        return parse_duration(self.quiet_period)

    @property
    def lifetime(self) -> timedelta:
        return parse_duration(self.expires_in)

    @property
    def rotate_window(self) -> timedelta:
        return parse_duration(self.rotate_before)

    @property
    def overlap_period(self) -> timedelta:
        return parse_duration(self.overlap)


_OVERWRITE = (
    "Allow writing to an existing file this tool did not write (JSON: replaced; dotenv: the app's block "
    "is added and other lines kept). The file's mode is kept."
)
_ALLOW_OUTSIDE = (
    "Allow a path outside the folder sink paths resolve against (absolute, '..', '~' or through a symlink)."
)


class JsonSink(_Strict):
    """The app's connection values as one JSON object; its ``app`` key marks the file as this tool's."""

    type: Literal["json"]
    path: str = Field(description="File path; relative paths resolve against the run's folder.")
    overwrite: bool = Field(default=False, description=_OVERWRITE)
    allow_outside: bool = Field(default=False, description=_ALLOW_OUTSIDE)

    _check_path = field_validator("path")(_sink_path)


class DotenvSink(_Strict):
    """``NAME=value`` lines in a block of the app's own between marker comments."""

    type: Literal["dotenv"]
    path: str = Field(description="File path; relative paths resolve against the run's folder.")
    prefix: str = Field(default="", description="Prefix for every variable name, e.g. EXCHANGE_.")
    dialect: Dialect = Field(
        default="portable",
        description=(
            "portable: bare values read alike by `set -a; . file`, python-dotenv and docker --env-file "
            "(values with spaces, quotes, $ ... are refused); shell: quoted for `. file` and python-dotenv; "
            "docker: literal values for docker --env-file only."
        ),
    )
    overwrite: bool = Field(default=False, description=_OVERWRITE)
    allow_outside: bool = Field(default=False, description=_ALLOW_OUTSIDE)

    _check_path = field_validator("path")(_sink_path)

    @field_validator("prefix")
    @classmethod
    def _valid_prefix(cls, value: str) -> str:
        if not PREFIX.match(value):
            raise ValueError(
                f"prefix {value!r} must start a variable name: letters, digits and '_', not starting with a digit"
            )
        return value


class GithubSink(_Strict):
    """Writes to $GITHUB_OUTPUT and masks the value with ::add-mask::."""

    type: Literal["github"]
    prefix: str = Field(default="", description="Prefix for every output name, e.g. mail_.")

    @field_validator("prefix")
    @classmethod
    def _valid_prefix(cls, value: str) -> str:
        if value and not re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", value):
            raise ValueError(
                f"prefix {value!r} must start an output name: letters, digits, '_' and '-', not starting with a digit"
            )
        return value


class KeyVaultSink(_Strict):
    type: Literal["keyvault"]
    vault_url: str
    secret_name: str | None = Field(default=None, description="Defaults to '<app name>-client-secret'.")

    @field_validator("secret_name")
    @classmethod
    def _valid_secret_name(cls, value: str | None) -> str | None:
        if value is not None and not KEYVAULT_SECRET_NAME.match(value):
            raise ValueError("Key Vault secret names hold 1-127 letters, digits and '-' only")
        return value

    def name_for(self, app_name: str) -> str:
        """The vault secret name; the default replaces characters Key Vault refuses ('.', '_') by '-'."""
        if self.secret_name is not None:
            return self.secret_name
        return re.sub(r"[^0-9A-Za-z-]", "-", f"{app_name}-client-secret")


Sink = Annotated[JsonSink | DotenvSink | GithubSink | KeyVaultSink, Field(discriminator="type")]


class App(_Strict):
    name: str = Field(
        pattern=NAME_PATTERN,
        description="Stable key of the registration (stored as the application's uniqueName).",
    )
    display_name: str = Field(min_length=1, max_length=120)
    audience: Audience = Audience.SINGLE_TENANT
    redirect_uris: RedirectUris = Field(default_factory=RedirectUris)
    implicit_grant: ImplicitGrant = Field(default_factory=ImplicitGrant)
    allow_public_client_flows: bool = False
    permissions: dict[str, ResourcePermissions] = Field(
        default_factory=dict,
        description="Keyed by resource display name ('Microsoft Graph', 'Office 365 Exchange Online') or appId.",
    )
    admin_consent: bool = False
    allow_privileged: bool = Field(
        default=False, description="Opt in to privileged permissions (privilege level 4) with admin consent."
    )
    secrets: list[Secret] = Field(default_factory=list)
    sinks: list[Sink] = Field(default_factory=list)
    owners: list[str] = Field(default_factory=list, description="User principal names or object IDs.")
    notes: str | None = Field(default=None, max_length=1024)
    tags: list[str] = Field(default_factory=list)
    extra_values: dict[str, str] = Field(
        default_factory=dict,
        description="Static values copied into the connection output (e.g. mailbox: ops@example.com).",
    )
    app_id: str | None = Field(default=None, description="Adopt an existing registration by its appId.")
    adopt: bool = Field(
        default=False, description="Adopt an existing registration with the same display name."
    )

    # -- hand-over (issue 13): products configured by hand --
    handover: str | None = Field(
        default=None,
        max_length=2000,
        description="Where a person puts new values after a rotation (e.g. 'paste into Settings > Mail > "
        "Client secret'); rotate prints it and writes a hand-over file per app.",
    )

    @field_validator("secrets")
    @classmethod
    def _unique_secret_names(cls, secrets: list[Secret]) -> list[Secret]:
        seen: set[str] = set()
        for secret in secrets:
            if secret.name in seen:
                raise ValueError(f"duplicate secret name {secret.name!r}")
            seen.add(secret.name)
        return secrets


class ManifestFile(_Strict):
    version: Literal[1] = 1
    apps: list[App] = Field(default_factory=list)
