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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from provisioner.core.durations import parse_duration
from provisioner.core.text import has_unsafe
from provisioner.model.credential_policy import DEFAULT_MAX_SECRET
from provisioner.model.dotenv_format import PREFIX, Dialect
from provisioner.model.federated import FederatedCredential, check_credentials

#: ``expires_in: max``: the longest lifetime the tenant's credential policy allows.
EXPIRES_MAX = "max"
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
#: Key Vault secret names: 1-127 letters, digits and dashes.
KEYVAULT_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
#: GitHub Actions secret and variable names: letters, digits and '_', not starting with a digit;
#: the ``GITHUB_`` prefix is reserved (checked apart, case-insensitively, by :func:`github_name_problem`).
GITHUB_SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
GITHUB_OWNER = re.compile(r"^[A-Za-z0-9-]{1,39}$")
GITHUB_API_URL = "https://api.github.com"


def github_name_problem(name: str) -> str | None:
    """Why GitHub would refuse ``name`` for an Actions secret or variable, or None."""
    if not GITHUB_SECRET_NAME.match(name):
        return "may hold only letters, digits and '_', and must not start with a digit"
    if name.upper().startswith("GITHUB_"):
        return "must not start with GITHUB_ (reserved by GitHub)"
    return None


def github_default_prefix(app_name: str) -> str:
    """``exchange-connector`` -> ``EXCHANGE_CONNECTOR_``: the app name as a GitHub name prefix."""
    return re.sub(r"[^A-Za-z0-9]", "_", app_name).upper() + "_"


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
    """A duration the rest of the tool can add to a date: ``parse_duration`` checks syntax and bounds
    (at most :data:`provisioner.core.durations.MAX_YEARS`), raising a ValueError the loader locates."""
    parse_duration(value)
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
    expires_in: str = Field(
        default="180d",
        description="Lifetime of each minted secret, e.g. 180d, 12mo; 'max': the longest the tenant's app "
        "management policy allows (2y where none caps it).",
    )
    rotate_before: str = Field(default="30d", description="Mint a replacement this long before expiry.")
    overlap: str = Field(default="7d", description="Keep the previous secret valid this long after rotation.")
    allow_long_lifetime: bool = Field(
        default=False, description="Opt in to lifetimes above 2 years (against Microsoft's recommendation)."
    )

    _check_durations = field_validator("rotate_before", "overlap")(_duration)

    @field_validator("expires_in")
    @classmethod
    def _expires_in(cls, value: str) -> str:
        return value if value == EXPIRES_MAX else _duration(value)

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
        """The lifetime; for ``max`` the policy-free longest (``build_desired`` resolves ``max`` per tenant)."""
        if self.expires_in == EXPIRES_MAX:
            return DEFAULT_MAX_SECRET
        return parse_duration(self.expires_in)

    @property
    def rotate_window(self) -> timedelta:
        return parse_duration(self.rotate_before)

    @property
    def overlap_period(self) -> timedelta:
        return parse_duration(self.overlap)


#: ``expires_in: max`` for a generated certificate where no asymmetricKeyLifetime policy caps it.
DEFAULT_MAX_CERTIFICATE = timedelta(days=730)


class Certificate(Secret):
    """A certificate key credential (AsymmetricX509Cert, usage Verify), with the secret lifecycle.

    Generated (default): a new RSA key pair and self-signed certificate per rotation; the private
    key is delivered to files (0600) beside the default connection file, never printed. With
    ``file``: the user's public certificate (PEM or DER) is uploaded; there is no key to deliver,
    and rotation means replacing the file. Rotation fields work as for secrets.
    """

    expires_in: str = Field(
        default="365d",
        description="Validity of each generated certificate, e.g. 365d, 12mo; 'max': the longest the tenant's "
        "app management policy allows (asymmetricKeyLifetime; 2y where none caps it). Ignored with file.",
    )
    file: str | None = Field(
        default=None,
        description="Upload this public certificate (.cer/.pem, PEM or DER; relative to the run's folder) "
        "instead of generating one. The private key stays with you.",
    )
    subject: str | None = Field(
        default=None,
        max_length=200,
        description="Subject CN of a generated certificate (default: the app name).",
    )
    key_size: Literal[2048, 3072, 4096] = Field(default=2048, description="RSA key size of a generated key.")
    pfx: bool = Field(
        default=False,
        description="Also write a password-protected PKCS#12 (.pfx); its random password is a connection "
        "value (pfx_password), masked like a secret.",
    )

    @field_validator("file", "subject")
    @classmethod
    def _safe_text(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or has_unsafe(value)):
            raise ValueError("must not be empty or hold control, bidi or line-separator characters")
        return value

    @model_validator(mode="after")
    def _file_or_generated(self) -> Certificate:
        if self.file is not None and (self.pfx or self.subject is not None):
            raise ValueError("pfx and subject belong to generated certificates, not to one given by file")
        return self

    @property
    def provided(self) -> bool:
        return self.file is not None

    @property
    def lifetime(self) -> timedelta:
        if self.expires_in == EXPIRES_MAX:
            return DEFAULT_MAX_CERTIFICATE
        return parse_duration(self.expires_in)


class ServicePrincipalCredentials(_Strict):
    """Credentials of the app's service principal (its enterprise application), not of the registration.

    Entra accepts a service principal's password for the app's client id at the token endpoint of
    the principal's tenant; tenants that restrict application secrets by policy judge these by the
    policy applied to the principal, else the default policy's ``servicePrincipalRestrictions``.
    """

    secrets: list[Secret] = Field(
        default_factory=list,
        description="Client secrets minted on the service principal (servicePrincipals/{id}/addPassword), "
        "with the same lifecycle as app secrets; delivered as sp_client_secret, sp_client_secret_id, "
        "sp_client_secret_expires (and sp_secrets).",
    )

    @field_validator("secrets")
    @classmethod
    def _unique_names(cls, secrets: list[Secret]) -> list[Secret]:
        return _unique_secret_names(secrets)


def _unique_secret_names(secrets: list[Secret]) -> list[Secret]:
    seen: set[str] = set()
    for secret in secrets:
        if secret.name in seen:
            raise ValueError(f"duplicate secret name {secret.name!r}")
        seen.add(secret.name)
    return secrets


_OVERWRITE = (
    "Allow writing to an existing file this tool did not write (JSON: replaced; dotenv: the app's block "
    "is added and other lines kept). The file's mode is kept."
)
_ALLOW_OUTSIDE = (
    "Allow a path outside the folder sink paths resolve against (absolute, '..', '~' or through a symlink)."
)
_RENAME_JSON = (
    "Connection-value name -> the key the product expects (e.g. client_id: ClientId); top-level keys only, "
    "other keys keep their names."
)
_RENAME_DOTENV = (
    "Connection-value name -> the full variable name the product reads (e.g. client_secret: MAIL_PASSWORD); "
    "the prefix is not applied to renamed values; app, display_name and audience are written when renamed."
)


class JsonSink(_Strict):
    """The app's connection values as one JSON object; its ``app`` key marks the file as this tool's."""

    type: Literal["json"]
    path: str = Field(description="File path; relative paths resolve against the run's folder.")
    overwrite: bool = Field(default=False, description=_OVERWRITE)
    allow_outside: bool = Field(default=False, description=_ALLOW_OUTSIDE)
    rename: dict[str, str] = Field(default_factory=dict, description=_RENAME_JSON)

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
    rename: dict[str, str] = Field(default_factory=dict, description=_RENAME_DOTENV)

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
    certificate_name: str | None = Field(
        default=None,
        description="Vault secret holding the app's generated certificate (PEM: private key and certificate); "
        "defaults to '<secret name>-certificate'.",
    )

    @field_validator("secret_name", "certificate_name")
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

    def certificate_name_for(self, app_name: str) -> str:
        """The vault secret name of the app's generated certificate (beside the client secret's)."""
        if self.certificate_name is not None:
            return self.certificate_name
        return f"{self.name_for(app_name)}-certificate"


class GithubSecretSink(_Strict):
    """The client secret as a GitHub Actions secret (repository, environment or organisation), via the REST API.

    A companion variable ``<secret_name>_KEY_ID`` records which keyId the secret holds (GitHub never
    returns a secret's value); ``variables: true`` also writes the non-secret values as variables.
    """

    type: Literal["github_secret"]
    repository: str | None = Field(
        default=None, description="owner/repo whose secret (or environment) to write."
    )
    environment: str | None = Field(
        default=None, description="An environment of `repository` (it must exist); its secret is written."
    )
    organization: str | None = Field(default=None, description="Write an organisation secret instead.")
    visibility: Literal["all", "private", "selected"] | None = Field(
        default=None, description="Organisation secrets only (required there): which repositories see it."
    )
    selected_repositories: list[str] = Field(
        default_factory=list, description="Repository names of the organisation, with visibility: selected."
    )
    secret_name: str | None = Field(default=None, description="Defaults to '<APP>_CLIENT_SECRET'.")
    variables: bool = Field(
        default=False,
        description="Also write the non-secret values (client id, tenant id, token URL, ...) as Actions "
        "variables named '<variable_prefix><KEY>'.",
    )
    variable_prefix: str | None = Field(default=None, description="Defaults to '<APP>_'.")
    api_url: str = Field(default=GITHUB_API_URL, description="GitHub Enterprise Server: https://HOST/api/v3.")
    token_env: str | None = Field(
        default=None,
        description="Environment variable holding the token (e.g. a GitHub App installation token); "
        "default GITHUB_TOKEN, then GH_TOKEN.",
    )

    @field_validator("repository")
    @classmethod
    def _valid_repository(cls, value: str | None) -> str | None:
        if value is not None and not GITHUB_REPOSITORY.match(value):
            raise ValueError(f"repository {value!r} must be 'owner/name'")
        return value

    @field_validator("organization")
    @classmethod
    def _valid_organization(cls, value: str | None) -> str | None:
        if value is not None and not GITHUB_OWNER.match(value):
            raise ValueError(f"organization {value!r} is not a GitHub organisation name")
        return value

    @field_validator("environment")
    @classmethod
    def _valid_environment(cls, value: str | None) -> str | None:
        if value is not None and not (0 < len(value) <= 255 and value.strip() == value):
            raise ValueError("environment names hold 1-255 characters without leading or trailing spaces")
        return value

    @field_validator("secret_name")
    @classmethod
    def _valid_secret_name(cls, value: str | None) -> str | None:
        if value is not None and (problem := github_name_problem(value)):
            raise ValueError(f"GitHub secret name {value!r} {problem}")
        return value

    @field_validator("variable_prefix")
    @classmethod
    def _valid_prefix(cls, value: str | None) -> str | None:
        if value and (problem := github_name_problem(value)):
            raise ValueError(f"variable_prefix {value!r} {problem}")
        return value

    @field_validator("token_env")
    @classmethod
    def _valid_token_env(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
            raise ValueError(f"token_env {value!r} is not an environment variable name")
        return value

    @field_validator("api_url")
    @classmethod
    def _valid_api_url(cls, value: str) -> str:
        if not value.lower().startswith("https://") or has_unsafe(value):
            raise ValueError(
                "api_url must be an https:// URL (GitHub Enterprise Server: https://HOST/api/v3)"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_target(self) -> GithubSecretSink:
        if (self.repository is None) == (self.organization is None):
            raise ValueError("a github_secret sink names exactly one of repository or organization")
        if self.organization is not None:
            if self.environment is not None:
                raise ValueError("environment belongs to a repository, not to an organization")
            if self.visibility is None:
                raise ValueError("an organization secret needs visibility: all, private or selected")
            if self.visibility == "selected" and not self.selected_repositories:
                raise ValueError("visibility: selected needs selected_repositories")
            if self.visibility != "selected" and self.selected_repositories:
                raise ValueError("selected_repositories needs visibility: selected")
        elif self.visibility is not None or self.selected_repositories:
            raise ValueError("visibility and selected_repositories belong to organization secrets")
        for name in self.selected_repositories:
            if not re.match(r"^[A-Za-z0-9._-]{1,100}$", name):
                raise ValueError(f"selected repository {name!r} is not a repository name")
        return self

    def name_for(self, app_name: str) -> str:
        """The secret's name: ``secret_name`` or ``<APP>_CLIENT_SECRET`` (may be invalid: validate says so)."""
        return self.secret_name or f"{github_default_prefix(app_name)}CLIENT_SECRET"

    def prefix_for(self, app_name: str) -> str:
        """Prefix of the variables ``variables: true`` writes."""
        return self.variable_prefix if self.variable_prefix is not None else github_default_prefix(app_name)


# --- template sink (issue 17): a file laid out the way a product reads it ---
class TemplateSink(_Strict):
    """A file rendered from the connection values with ``$name`` / ``${name}`` placeholders.

    The syntax is Python's ``string.Template``: substitution only, no expressions, no code; ``$$`` is a
    literal ``$``. Every placeholder must name a connection value (``validate`` checks it).
    """

    type: Literal["template"]
    path: str = Field(description="File to write; relative paths resolve against the run's folder.")
    template: str | None = Field(default=None, max_length=65536, description="The template text.")
    template_file: str | None = Field(
        default=None, description="Read the template from this file (relative to the run's folder) instead."
    )
    overwrite: bool = Field(default=False, description=_OVERWRITE)
    allow_outside: bool = Field(default=False, description=_ALLOW_OUTSIDE)

    _check_path = field_validator("path")(_sink_path)

    @model_validator(mode="after")
    def _one_source(self) -> TemplateSink:
        if (self.template is None) == (self.template_file is None):
            raise ValueError("give exactly one of template (the text) and template_file (a path)")
        return self


Sink = Annotated[
    JsonSink | DotenvSink | GithubSink | KeyVaultSink | GithubSecretSink | TemplateSink,
    Field(discriminator="type"),
]


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
    owners: list[str] | None = Field(
        default=None,
        description="Users who own the registration, by user principal name or object ID. Left out: owners are "
        "left alone; a list manages the user owners exactly ([] removes them); service principal owners (e.g. "
        "this tool's own identity) are never touched.",
    )
    notes: str | None = Field(default=None, max_length=1024)
    tags: list[str] = Field(default_factory=list)
    extra_values: dict[str, str] = Field(
        default_factory=dict,
        description="Static values copied into the connection output (e.g. mailbox: ops@example.com).",
    )
    app_id: str | None = Field(default=None, description="Adopt an existing registration by its appId.")
    # --- product-shaped connection values (issue 17) ---
    authority: Literal["common", "organizations", "consumers", "tenant"] | None = Field(
        default=None,
        description=(
            "Tenant segment of authorization_url/token_url as the product documents it (default: by audience: "
            "tenant ID, organizations, common, consumers). Apps with application permissions only always get "
            "the tenant's token_url: client credentials need a tenant."
        ),
    )
    token_sinks: list[Sink] = Field(
        default_factory=list,
        description="Where `provisioner authorize` also delivers the access and refresh token (json, dotenv or "
        "template sinks; values: app, client_id, tenant_id, token_url, access_token, refresh_token, "
        "expires_in, expires_at, scope).",
    )
    scope_separator: str | None = Field(
        default=None,
        min_length=1,
        max_length=3,
        description="Also emit scopes_joined: the delegated scopes joined with this (e.g. '~'); scopes stays "
        "space separated.",
    )
    adopt: bool = Field(
        default=False, description="Adopt an existing registration with the same display name."
    )
    # -- credentials without a secret (provisioner.model.federated)
    federated_credentials: list[FederatedCredential] | None = Field(
        default=None,
        description="Federated identity credentials (GitHub Actions, Kubernetes, any OIDC issuer). Left out: "
        "existing ones are left alone; [] removes them from a managed app.",
    )
    _check_federated = field_validator("federated_credentials")(check_credentials)

    # -- certificates (issue 14): key credentials with the secret lifecycle
    certificates: list[Certificate] | None = Field(
        default=None,
        description="Certificate credentials (generated, or a public certificate file). Left out: existing "
        "certificates are left alone; [] removes them from a managed app.",
    )

    # -- hand-over (issue 13): products configured by hand --
    handover: str | None = Field(
        default=None,
        max_length=2000,
        description="Where a person puts new values after a rotation (e.g. 'paste into Settings > Mail > "
        "Client secret'); rotate prints it and writes a hand-over file per app.",
    )

    # -- user and group assignment (issue 17): who may sign in to the app --
    assignment_required: bool | None = Field(
        default=None,
        description="Require user assignment (the service principal's appRoleAssignmentRequired): only assigned "
        "users, and members of assigned groups, can sign in (others get AADSTS50105). Left out: left alone.",
    )
    assigned_users: list[str] | None = Field(
        default=None,
        description="Users assigned to the app (default access), by user principal name or object ID. Left out: "
        "user assignments are left alone; [] removes them.",
    )
    assigned_groups: list[str] | None = Field(
        default=None,
        description="Groups assigned to the app (default access; their direct members may sign in), by display "
        "name or object ID. Left out: group assignments are left alone; [] removes them.",
    )

    # -- service principal credentials (issue 14): secrets of the enterprise application itself
    service_principal: ServicePrincipalCredentials | None = Field(
        default=None,
        description="Credentials minted on the app's service principal instead of the registration "
        "(secrets: [...], same fields as app secrets). Left out: the principal's credentials are left alone.",
    )

    @property
    def sp_secrets(self) -> list[Secret]:
        """The service principal's declared secrets ([] when ``service_principal`` is left out)."""
        return list(self.service_principal.secrets) if self.service_principal is not None else []

    @field_validator("secrets")
    @classmethod
    def _unique_secret_names(cls, secrets: list[Secret]) -> list[Secret]:
        return _unique_secret_names(secrets)

    @field_validator("certificates")
    @classmethod
    def _unique_certificate_names(cls, certs: list[Certificate] | None) -> list[Certificate] | None:
        seen: set[str] = set()
        for cert in certs or []:
            if cert.name in seen:
                raise ValueError(f"duplicate certificate name {cert.name!r}")
            seen.add(cert.name)
        return certs


class ManifestFile(_Strict):
    version: Literal[1] = 1
    apps: list[App] = Field(default_factory=list)
