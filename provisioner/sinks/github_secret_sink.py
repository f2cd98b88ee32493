"""GitHub Actions secrets sink: the client secret where workflows read it, through GitHub's REST API.

Targets: a repository secret (``repository``), an environment secret (``repository`` and
``environment``) or an organisation secret (``organization`` with ``visibility`` and, for
``selected``, the repository names, sent as the ids GitHub wants). Values are sealed boxes
(libsodium, PyNaCl) to the target's public key, as GitHub requires; the key is read for every
delivery (GitHub may rotate it) and its ``key_id`` sent with the value.

**Holding.** GitHub never returns a secret's value, so after writing the secret this sink reads
back the secret's ``updated_at`` and writes the companion Actions variable
``<SECRET_NAME>_KEY_ID`` (same scope) holding ``{"key_id": ..., "secret_updated_at": ...}``.
:func:`held_key_id` answers from it: no secret -> holds nothing (None); a secret whose
``updated_at`` is the recorded one -> the recorded keyId; anything else (no or unreadable
companion, a secret written since, by a person or another tool, an API error) -> :class:`SinkError`,
which the holdings record as an unreadable sink: provenance *unknown*, so rotation removes
nothing from the app (never "not held"). Writing the variable *after* the secret means a failure
in between also leaves "unknown", never a wrong keyId. GitHub's timestamps have whole seconds: a
foreign write in the very second of this tool's write cannot be told apart.

``variables: true`` also writes the non-secret connection values as variables
``<variable_prefix><KEY>`` (``EXCHANGE_CONNECTOR_CLIENT_ID``, ``..._TENANT_ID``, ``..._TOKEN_URL``).

Token: the variable the sink names (``token_env``, e.g. one holding a GitHub App installation token
from ``actions/create-github-app-token``), else ``GITHUB_TOKEN``, else ``GH_TOKEN``. ``api_url`` is
GitHub Enterprise Server's ``https://HOST/api/v3``; ``PROVISIONER_GITHUB_CA_CERT`` adds a CA to the
system's; ``HTTPS_PROXY``/``NO_PROXY`` are honoured (httpx ``trust_env``). Every failure is one
line naming the app and the target, never a value; rate limits say when they reset.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from provisioner.core import settings
from provisioner.core.errors import SinkError
from provisioner.core.text import printable
from provisioner.model.connections import SECRET_KEYS
from provisioner.model.dotenv_format import SKIPPED_KEYS
from provisioner.model.manifest import GITHUB_API_URL, App, GithubSecretSink, github_name_problem
from provisioner.sinks.common import DeliveryReceipt, flat_values, held_secret_id, reason

COMPANION_SUFFIX = "_KEY_ID"
TIMEOUT_SECONDS = 30.0
API_VERSION = "2022-11-28"
#: Keys never written as variables: the secret itself, and what names the registration, not a connection.
_NOT_VARIABLES = frozenset({*SECRET_KEYS, *SKIPPED_KEYS})


@dataclass(frozen=True)
class _Paths:
    secrets: str  # the secrets collection (``.../public-key`` and ``.../<NAME>`` below it)
    variables: str  # the variables collection
    environment: str | None  # the environment resource, checked before minting


def secret_name(sink: GithubSecretSink, app: App) -> str:
    """The secret's name (GitHub shows names upper-case; they compare without case)."""
    name = sink.name_for(app.name)
    if problem := github_name_problem(name):  # validate says so first; kept for models built in code
        raise SinkError(f"app {app.name!r}: GitHub secret name {name!r} {problem}; set secret_name")
    return name.upper()


def companion_name(sink: GithubSecretSink, app: App) -> str:
    """The variable recording which keyId the secret holds."""
    return secret_name(sink, app) + COMPANION_SUFFIX


def variable_values(sink: GithubSecretSink, app: App, values: Mapping[str, Any]) -> dict[str, str]:
    """Variable name -> value for ``variables: true`` (empty values are left out: GitHub refuses them)."""
    if not sink.variables:
        return {}
    prefix = sink.prefix_for(app.name)
    out: dict[str, str] = {}
    for key, value in flat_values(values).items():
        if key in _NOT_VARIABLES or not value:
            continue
        out[f"{prefix}{key}".upper()] = value
    return out


def variable_problems(sink: GithubSecretSink, app: App, values: Mapping[str, Any]) -> list[str]:
    """Names GitHub would refuse, or a variable that would overwrite the companion."""
    problems: list[str] = []
    companion = companion_name(sink, app)
    for name in variable_values(sink, app, values):
        if problem := github_name_problem(name):
            problems.append(f"variable name {name!r} {problem}")
        elif name == companion:
            problems.append(f"variable {name} would overwrite the keyId record; set variable_prefix")
    return problems


def _paths(sink: GithubSecretSink) -> _Paths:
    if sink.organization is not None:
        org = f"/orgs/{quote(sink.organization, safe='')}/actions"
        return _Paths(f"{org}/secrets", f"{org}/variables", None)
    owner, _, repo = (sink.repository or "").partition("/")
    base = f"/repos/{quote(owner, safe='')}/{quote(repo, safe='')}"
    if sink.environment is not None:
        environment = f"{base}/environments/{quote(sink.environment, safe='')}"
        return _Paths(f"{environment}/secrets", f"{environment}/variables", environment)
    return _Paths(f"{base}/actions/secrets", f"{base}/actions/variables", None)


def _target(sink: GithubSecretSink) -> str:
    if sink.organization is not None:
        where = f"organization {sink.organization} (visibility {sink.visibility})"
    elif sink.environment is not None:
        where = f"{sink.repository} environment {printable(sink.environment, one_line=True)}"
    else:
        where = f"{sink.repository}"
    if sink.api_url.rstrip("/") != GITHUB_API_URL:
        where += f" at {urlsplit(sink.api_url).netloc}"
    return where


def describe(sink: GithubSecretSink, app: App) -> str:
    return f"GitHub Actions secret {secret_name(sink, app)} in {_target(sink)}"


def describe_destination(sink: GithubSecretSink, app: App) -> str:
    """``plan``'s line: the target, and what else is written there."""
    more = [f"keyId record in variable {companion_name(sink, app)}"]
    if sink.variables:
        more.append(f"values as variables {sink.prefix_for(app.name).upper()}*")
    if sink.selected_repositories:
        more.append(f"repositories {', '.join(sink.selected_repositories)}")
    return f"{describe(sink, app)} ({'; '.join(more)})"


def token_names(sink: GithubSecretSink) -> list[str]:
    return [sink.token_env] if sink.token_env else [settings.GITHUB_TOKEN, settings.GH_TOKEN]


def _token(sink: GithubSecretSink) -> str | None:
    for name in token_names(sink):
        if value := settings.env(name):
            return value.strip()
    return None


class _Api:
    """One httpx client for one sink and app; every failure becomes one SinkError line."""

    def __init__(self, sink: GithubSecretSink, app: App, values: Mapping[str, Any] | None = None) -> None:
        self.sink, self.app, self.values = sink, app, values or {}
        self.where = describe(sink, app)
        token = _token(sink)
        if token is None:
            raise self.fail(
                f"no GitHub token: set {' or '.join(token_names(sink))} (a token that may write Actions "
                "secrets and variables of the target)"
            )
        verify: ssl.SSLContext | bool = True
        if ca := settings.env(settings.GITHUB_CA_CERT):
            try:
                verify = ssl.create_default_context()
                verify.load_verify_locations(cafile=ca)
            except (OSError, ssl.SSLError) as exc:
                raise self.fail(f"cannot load {settings.GITHUB_CA_CERT} {ca}: {reason(exc)}") from None
        self.client = httpx.Client(
            base_url=sink.api_url.rstrip("/") + "/",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "provisioner",
            },
            verify=verify,
            trust_env=True,  # HTTPS_PROXY / NO_PROXY
            timeout=TIMEOUT_SECONDS,
        )

    def fail(self, text: str) -> SinkError:
        return SinkError(f"app {self.app.name!r}: {self.where}: {text}")

    def call(
        self, method: str, path: str, what: str, *, body: Any = None, missing_ok: bool = False
    ) -> httpx.Response | None:
        """The response (2xx), None for a 404 when ``missing_ok``; SinkError for anything else."""
        try:
            response = self.client.request(method, path.lstrip("/"), json=body)
        except httpx.HTTPError as exc:
            host = urlsplit(self.sink.api_url).netloc
            raise self.fail(f"cannot {what}: cannot reach {host}: {reason(exc, self.values)}") from None
        if response.status_code == 404 and missing_ok:
            return None
        if response.is_success:
            return response
        raise self.fail(f"cannot {what}: {self.explain(response)}")

    def explain(self, response: httpx.Response) -> str:
        status = response.status_code
        message = _message(response, self.values)
        said = f": {message}" if message else ""
        if status in (403, 429):
            if response.headers.get("x-ratelimit-remaining") == "0":
                return f"GitHub rate limit reached (HTTP {status}); it resets at {_reset(response)}, run again then"
            retry = response.headers.get("retry-after")
            if retry or status == 429 or "rate limit" in message.lower():
                after = f"; retry after {printable(retry, one_line=True)[:20]} s" if retry else ""
                return f"GitHub secondary rate limit (HTTP {status}){after}"
        if status == 401:
            return f"GitHub rejected the token (HTTP 401{said}); check {' or '.join(token_names(self.sink))}"
        if status == 403:
            return (
                f"the token is not allowed (HTTP 403{said}); it needs read and write access to the "
                "target's Actions secrets and variables"
            )
        if status == 404:
            return "not found (HTTP 404): the target does not exist or the token cannot see it"
        if status == 422:
            return f"GitHub refused the request (HTTP 422{said})"
        return f"GitHub answered HTTP {status}{said}"

    def close(self) -> None:
        self.client.close()


@contextmanager
def _api(sink: GithubSecretSink, app: App, values: Mapping[str, Any] | None = None) -> Iterator[_Api]:
    api = _Api(sink, app, values)
    try:
        yield api
    finally:
        api.close()


def _message(response: httpx.Response, values: Mapping[str, Any]) -> str:
    """GitHub's ``message``, one printable line of at most 200 characters, scrubbed of secret values."""
    try:
        data = response.json()
    except ValueError:
        return ""
    text = data.get("message") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip():
        return ""
    return printable(reason(Exception(text), values), one_line=True)[:200]


def _reset(response: httpx.Response) -> str:
    value = response.headers.get("x-ratelimit-reset", "")
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "a later time"


def _json(response: httpx.Response | None) -> dict[str, Any]:
    if response is None:
        return {}
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _public_key(api: _Api, paths: _Paths) -> tuple[str, bytes]:
    data = _json(api.call("GET", f"{paths.secrets}/public-key", "read the target's public key"))
    key_id, key = data.get("key_id"), data.get("key")
    try:
        raw = base64.b64decode(str(key), validate=True)
    except ValueError:
        raw = b""
    if not isinstance(key_id, str) or len(raw) != 32:
        raise api.fail("GitHub's public key answer holds no usable key (key_id, 32-byte key)")
    return key_id, raw


def _seal(public_key: bytes, value: str) -> str:
    from nacl.public import PublicKey, SealedBox

    return base64.b64encode(SealedBox(PublicKey(public_key)).encrypt(value.encode("utf-8"))).decode("ascii")


def _repository_ids(api: _Api) -> list[int]:
    """The ids GitHub wants for ``selected_repositories`` (names of the organisation's repositories)."""
    ids: list[int] = []
    org = quote(api.sink.organization or "", safe="")
    for name in api.sink.selected_repositories:
        data = _json(api.call("GET", f"/repos/{org}/{quote(name, safe='')}", f"find repository {name}"))
        if not isinstance(data.get("id"), int):
            raise api.fail(f"GitHub's answer for repository {name} holds no id")
        ids.append(data["id"])
    return ids


def _scope_fields(api: _Api, repository_ids: list[int] | None) -> dict[str, Any]:
    """``visibility`` and ``selected_repository_ids`` for organisation secrets and variables."""
    if api.sink.organization is None:
        return {}
    fields: dict[str, Any] = {"visibility": api.sink.visibility}
    if api.sink.visibility == "selected":
        fields["selected_repository_ids"] = repository_ids or []
    return fields


def _set_variable(api: _Api, paths: _Paths, name: str, value: str, scope: dict[str, Any]) -> None:
    """Create or update one variable: PATCH, and POST when GitHub says it does not exist yet."""
    what = f"write variable {name}"
    body = {"name": name, "value": value, **scope}
    if api.call("PATCH", f"{paths.variables}/{name}", what, body=body, missing_ok=True) is None:
        api.call("POST", paths.variables, what, body=body)


def deliver(sink: GithubSecretSink, app: App, values: Mapping[str, Any]) -> DeliveryReceipt:
    """Write the secret, record its keyId in the companion variable, then the variables (if asked)."""
    where = describe(sink, app)
    key_id = held_secret_id(values)
    variables = variable_values(sink, app, values)
    if key_id is None and not variables:
        return DeliveryReceipt(where, None)  # nothing secret to write (an app without secrets)
    problems = variable_problems(sink, app, values)
    if problems:
        raise SinkError(f"app {app.name!r}: {where}: {problems[0]}")
    paths = _paths(sink)
    name = secret_name(sink, app)
    with _api(sink, app, values) as api:
        repository_ids = _repository_ids(api) if sink.visibility == "selected" else None
        scope = _scope_fields(api, repository_ids)
        if key_id is not None and not _already_holds(api, sink, paths, app, key_id):
            public_id, public_key = _public_key(api, paths)
            body = {"encrypted_value": _seal(public_key, str(values["client_secret"])), "key_id": public_id}
            api.call("PUT", f"{paths.secrets}/{name}", "write the secret", body={**body, **scope})
            written = _json(api.call("GET", f"{paths.secrets}/{name}", "read the secret's metadata back"))
            stamp = written.get("updated_at")
            if not isinstance(stamp, str):
                raise api.fail("GitHub's answer for the written secret holds no updated_at")
            record = json.dumps({"key_id": key_id, "secret_updated_at": stamp}, separators=(",", ":"))
            _set_variable(api, paths, companion_name(sink, app), record, scope)
        for variable, value in variables.items():
            _set_variable(api, paths, variable, value, scope)
    return DeliveryReceipt(where, key_id)


def held_key_id(sink: GithubSecretSink, app: App) -> str | None:
    """The keyId the secret holds per its companion variable; None without a secret; SinkError when unknown."""
    with _api(sink, app) as api:
        return _recorded_key_id(api, _paths(sink), app, sink)


def _already_holds(api: _Api, sink: GithubSecretSink, paths: _Paths, app: App, key_id: str) -> bool:
    """True when the secret provably holds ``key_id`` already, so a re-delivery would only add a write.

    Re-running ``apply`` must not rewrite a secret that is already current (each write counts
    against the token's rate limit and bumps ``updated_at`` for nothing). Organisation secrets are
    always written: their visibility and selected repositories are part of the write. Anything
    unknown (no record, a foreign write, a failed read) means "write it".
    """
    if sink.organization is not None:
        return False
    try:
        return _recorded_key_id(api, paths, app, sink) == key_id
    except SinkError:
        return False


def _recorded_key_id(api: _Api, paths: _Paths, app: App, sink: GithubSecretSink) -> str | None:
    name = secret_name(sink, app)
    companion = companion_name(sink, app)
    secret = api.call("GET", f"{paths.secrets}/{name}", "read the secret's metadata", missing_ok=True)
    if secret is None:
        return None
    written = _json(secret).get("updated_at")
    variable = api.call(
        "GET", f"{paths.variables}/{companion}", f"read variable {companion}", missing_ok=True
    )
    if variable is None:
        raise api.fail(
            f"which secret it holds is unknown: variable {companion} (the keyId record) is missing; "
            "run apply to deliver it again"
        )
    try:
        record = json.loads(str(_json(variable).get("value")))
    except ValueError:
        record = None
    if not (isinstance(record, dict) and isinstance(record.get("key_id"), str)):
        raise api.fail(f"which secret it holds is unknown: variable {companion} is not this tool's record")
    if record.get("secret_updated_at") != written:
        raise api.fail(
            f"which secret it holds is unknown: the secret was written at {printable(str(written))}, "
            f"not by this tool's last delivery; run apply to deliver it again"
        )
    return str(record["key_id"])


def preflight(
    sink: GithubSecretSink, app: App, values: Mapping[str, Any], add: Callable[[str], None]
) -> None:
    """Before minting: names valid, a token set, and GitHub lets it read the target (one line per problem).

    Checked without writing: the environment exists, the public key is readable (the secrets
    permission), the variables are readable, selected repositories exist. Write permission itself
    only shows on the first write; a refused write after the mint takes the mint back.
    """
    try:
        secret_name(sink, app)
    except SinkError as exc:
        add(exc.message.removeprefix(f"app {app.name!r}: "))
        return
    for problem in variable_problems(sink, app, values):
        add(problem)
    prefix = f"app {app.name!r}: {describe(sink, app)}: "
    paths = _paths(sink)
    try:
        with _api(sink, app) as api:
            if paths.environment is not None:
                found = api.call("GET", paths.environment, "read the environment", missing_ok=True)
                if found is None:
                    add(
                        f"environment {printable(sink.environment or '', one_line=True)} does not exist in "
                        f"{sink.repository} (or the token cannot see it); create it first"
                    )
                    return
            _public_key(api, paths)
            api.call("GET", f"{paths.variables}?per_page=1", "read the target's variables")
            if sink.visibility == "selected":
                _repository_ids(api)
    except SinkError as exc:
        add(exc.message.removeprefix(prefix))
