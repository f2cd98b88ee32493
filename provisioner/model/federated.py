"""Federated identity credentials (workload identity federation): manifest entries and their Graph form.

A credential trusts tokens of an external issuer whose ``sub`` claim equals
``subject`` and whose ``aud`` equals the single audience. Three ways to declare
one: ``github`` (GitHub Actions OIDC: the subject is built the documented way
from repository plus environment, branch, tag or pull request), ``kubernetes``
(a service account of a cluster whose OIDC issuer is given) or a plain
``issuer``/``subject``. The limits checked here are Microsoft's documented ones,
so a manifest that passes ``validate`` is not refused by Graph for them: at most
20 per application, name 1-120 URL-friendly characters (immutable, the key this
tool matches on), issuer, subject, audience and description at most 600
characters each, exactly one audience, and (issuer, subject) unique per app.

The manifest key is optional on purpose: an app whose manifest leaves
``federated_credentials`` out keeps whatever credentials it has (and costs no
extra read); ``federated_credentials: []`` means "none", so undeclared ones are
removed from a managed app like undeclared secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The OIDC issuer of GitHub Actions tokens.
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
#: The audience Entra ID expects in an exchanged token (what azure/login asks GitHub for).
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
MAX_PER_APP = 20
MAX_TEXT = 600
MAX_NAME = 120
#: URL-friendly: the unreserved characters of RFC 3986, not starting with a separator.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,119}$"
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _https_url(value: str) -> str:
    if not re.match(r"^https://[^\s/]+", value) or _CONTROL.search(value):
        raise ValueError(f"issuer {value!r} must be an https:// URL")
    if len(value) > MAX_TEXT:
        raise ValueError(f"issuer is {len(value)} characters long: at most {MAX_TEXT}")
    return value


def _plain_text(value: str | None) -> str | None:
    if value is not None and _CONTROL.search(value):
        raise ValueError("holds a control, bidi or line-separator character")
    return value


def _optional_url(value: str | None) -> str | None:
    return None if value is None else _https_url(value)


class GithubActions(_Strict):
    """A GitHub Actions job: the repository and exactly one of environment, branch, tag or pull_request."""

    repository: str = Field(description="owner/name of the repository whose workflows may sign in.")
    environment: str | None = Field(default=None, min_length=1, description="Jobs using this environment.")
    branch: str | None = Field(default=None, min_length=1, description="Jobs running on this branch.")
    tag: str | None = Field(default=None, min_length=1, description="Jobs running on this tag.")
    pull_request: bool = Field(default=False, description="Jobs triggered by a pull request.")

    _check_text = field_validator("environment", "branch", "tag")(_plain_text)

    @field_validator("repository")
    @classmethod
    def _valid_repository(cls, value: str) -> str:
        if not _REPOSITORY.match(value):
            raise ValueError(f"repository {value!r} must be owner/name")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> GithubActions:
        chosen = [k for k in ("environment", "branch", "tag") if getattr(self, k)]
        chosen += ["pull_request"] if self.pull_request else []
        if len(chosen) != 1:
            raise ValueError(
                "github needs exactly one of environment, branch, tag or pull_request: true"
                + (f" (got {', '.join(chosen)})" if chosen else "")
            )
        return self

    @property
    def subject(self) -> str:
        """The ``sub`` claim GitHub puts in the job's token (GitHub's documented default format)."""
        base = f"repo:{self.repository}"
        if self.environment:
            return f"{base}:environment:{self.environment}"
        if self.branch:
            return f"{base}:ref:refs/heads/{self.branch}"
        if self.tag:
            return f"{base}:ref:refs/tags/{self.tag}"
        return f"{base}:pull_request"

    @classmethod
    def from_subject(cls, subject: str) -> GithubActions | None:
        """The entry that produces ``subject``, or None when it is not one of the four documented forms."""
        match = re.match(r"^repo:([^:]+/[^:]+):(.+)$", subject)
        if not match:
            return None
        repo, rest = match.groups()
        fields: dict[str, object]
        if rest.startswith("environment:"):
            fields = {"environment": rest[len("environment:") :]}
        elif rest.startswith("ref:refs/heads/"):
            fields = {"branch": rest[len("ref:refs/heads/") :]}
        elif rest.startswith("ref:refs/tags/"):
            fields = {"tag": rest[len("ref:refs/tags/") :]}
        elif rest == "pull_request":
            fields = {"pull_request": True}
        else:
            return None
        try:
            found = cls.model_validate({"repository": repo, **fields})
        except ValueError:
            return None
        return found if found.subject == subject else None


class KubernetesServiceAccount(_Strict):
    """A Kubernetes service account of a cluster whose OIDC issuer URL is given (e.g. AKS's)."""

    issuer: str = Field(description="The cluster's OIDC issuer URL.")
    namespace: str
    service_account: str

    _check_issuer = field_validator("issuer")(_https_url)

    @field_validator("namespace", "service_account")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _K8S_NAME.match(value):
            raise ValueError(f"{value!r} is not a Kubernetes name (lowercase letters, digits, '-' and '.')")
        return value

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    @classmethod
    def from_claims(cls, issuer: str, subject: str) -> KubernetesServiceAccount | None:
        match = re.match(r"^system:serviceaccount:([^:]+):([^:]+)$", subject)
        if not match:
            return None
        try:
            return cls(issuer=issuer, namespace=match.group(1), service_account=match.group(2))
        except ValueError:
            return None


class FederatedCredential(_Strict):
    """One federated identity credential of the app (``federatedIdentityCredentials`` in Graph)."""

    name: str = Field(
        pattern=NAME_PATTERN,
        description="Unique per app, immutable in Entra: 1-120 letters, digits, '-', '_', '.', '~'.",
    )
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    github: GithubActions | None = Field(default=None, description="Trust a GitHub Actions job.")
    kubernetes: KubernetesServiceAccount | None = Field(
        default=None, description="Trust a Kubernetes service account."
    )
    issuer: str | None = Field(default=None, description="Any other issuer (with subject).")
    subject: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    audience: str = Field(default=TOKEN_EXCHANGE_AUDIENCE, min_length=1, max_length=MAX_TEXT)

    _check_issuer = field_validator("issuer")(_optional_url)
    _check_text = field_validator("subject", "audience", "description")(_plain_text)

    @model_validator(mode="after")
    def _one_kind(self) -> FederatedCredential:
        kinds = [k for k in ("github", "kubernetes") if getattr(self, k) is not None]
        generic = self.issuer is not None or self.subject is not None
        if len(kinds) + generic != 1:
            raise ValueError("give exactly one of github, kubernetes, or issuer with subject")
        if generic and (self.issuer is None or self.subject is None):
            raise ValueError("issuer and subject go together")
        if len(self.resolved_subject) > MAX_TEXT:
            raise ValueError(f"subject {self.resolved_subject!r} is longer than {MAX_TEXT} characters")
        return self

    @property
    def resolved_issuer(self) -> str:
        if self.github is not None:
            return GITHUB_ISSUER
        if self.kubernetes is not None:
            return self.kubernetes.issuer
        return self.issuer or ""

    @property
    def resolved_subject(self) -> str:
        if self.github is not None:
            return self.github.subject
        if self.kubernetes is not None:
            return self.kubernetes.subject
        return self.subject or ""

    def desired(self) -> DesiredFederated:
        return DesiredFederated(
            name=self.name,
            issuer=self.resolved_issuer,
            subject=self.resolved_subject,
            audiences=(self.audience,),
            description=self.description,
        )


def check_credentials(creds: list[FederatedCredential] | None) -> list[FederatedCredential] | None:
    """Per-app rules: at most 20, names unique (case-insensitively, as Graph compares), issuer+subject unique."""
    if creds is None:
        return None
    if len(creds) > MAX_PER_APP:
        raise ValueError(f"{len(creds)} federated credentials: Entra allows at most {MAX_PER_APP} per app")
    names: set[str] = set()
    pairs: dict[tuple[str, str], str] = {}
    for cred in creds:
        if cred.name.lower() in names:
            raise ValueError(f"duplicate federated credential name {cred.name!r}")
        names.add(cred.name.lower())
        pair = (cred.resolved_issuer, cred.resolved_subject)
        if pair in pairs:
            raise ValueError(
                f"federated credentials {pairs[pair]!r} and {cred.name!r} have the same issuer and subject"
            )
        pairs[pair] = cred.name
    return creds


@dataclass(frozen=True)
class DesiredFederated:
    """What Graph should hold for one credential (the planner compares these fields)."""

    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]
    description: str | None = None

    def body(self) -> dict[str, object]:
        return {
            "name": self.name,
            "issuer": self.issuer,
            "subject": self.subject,
            "audiences": list(self.audiences),
            "description": self.description,
        }


@dataclass(frozen=True)
class ExistingFederated:
    """A credential as Graph reports it."""

    id: str
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]
    description: str | None = None


def federated_from_json(item: dict[str, object]) -> ExistingFederated:
    audiences = item.get("audiences")
    return ExistingFederated(
        id=str(item.get("id")),
        name=str(item.get("name") or ""),
        issuer=str(item.get("issuer") or ""),
        subject=str(item.get("subject") or ""),
        audiences=tuple(str(a) for a in audiences) if isinstance(audiences, list) else (),
        description=str(item["description"]) if item.get("description") else None,
    )
