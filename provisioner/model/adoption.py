"""Adoption: which existing registration a manifest entry with ``app_id`` or ``adopt: true`` takes over.

The tool normally finds its applications by ``uniqueName`` (= the manifest
``name``), which it sets when it creates them. Graph accepts ``uniqueName`` only
at creation, so a registration made elsewhere (portal, scripts, another tool)
can never get one later: an adopted app is tracked by something else on every
run, and which one matters:

* ``app_id: <Application ID>`` - robust: the appId never changes, whatever the
  app is called. ``provisioner export`` writes it; warnings recommend it.
* ``adopt: true`` alone - by ``displayName`` on every run. Renaming the app (in
  the manifest or the portal) loses the link, and the next apply would create a
  new registration instead. Every run therefore warns, naming the ``app_id``
  line to add.

Ambiguity is always an error, never a guess: several registrations with the
display name, an ``app_id`` that does not exist, a uniqueName that belongs to
another appId, or two manifest entries resolving to the same registration.
Errors point at the manifest's file:line when the loader's ``LoadedApp`` is
given.

Ownership: an adopted registration is changed field by field through the
manifest, but it does not receive the ``provisioner:managed`` tag unless the
manifest lists it in ``tags`` (see :func:`provisioner.model.desired.build_desired`).
The tag gates housekeeping that assumes the tool holds every secret value -
removal of undeclared or orphaned secrets and ``--prune`` - and the values of
an adopted app's pre-existing secrets live wherever their creator put them.
``destroy`` still deletes an adopted app: the manifest names it explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from provisioner.core.errors import ManifestError, ProvisionerError

if TYPE_CHECKING:
    from provisioner.model.manifest import App
    from provisioner.model.tenant import ExistingApp, TenantState


def _app(item: Any) -> App:
    return getattr(item, "app", item)  # type: ignore[no-any-return]


def _error(item: Any, field: str, message: str) -> ProvisionerError:
    """A located ManifestError for a loader ``LoadedApp``; a plain one-line error for a bare ``App``."""
    locate = getattr(item, "error", None)
    if callable(locate):
        error: ProvisionerError = locate((field,), message)
        return error
    return ProvisionerError(f"app {_app(item).name}: {field}: {message}")


def describe(app: ExistingApp) -> str:
    unique = f", uniqueName {app.unique_name!r}" if app.unique_name else ""
    return f"{app.app_id} ({app.display_name!r}{unique})"


def _same_name(unique_name: str | None, name: str) -> bool:
    return bool(unique_name) and str(unique_name).lower() == name.lower()


def resolve(item: Any, by_unique_name: ExistingApp | None, matches: list[ExistingApp]) -> ExistingApp | None:
    """The registration ``item`` (an ``App`` or ``LoadedApp`` with app_id/adopt) refers to, or None to create.

    ``by_unique_name`` is the application whose uniqueName is the manifest name;
    ``matches`` the result of the ``appId eq`` (``app_id``) or ``displayName eq``
    (``adopt``) lookup.
    """
    app = _app(item)
    if by_unique_name is not None:
        if app.app_id and by_unique_name.app_id != app.app_id.lower():
            raise _error(
                item,
                "app_id",
                f"uniqueName {app.name!r} belongs to appId {by_unique_name.app_id}, not {app.app_id}; "
                "fix app_id or rename the app",
            )
        return by_unique_name
    if app.app_id:
        if not matches:
            raise _error(
                item,
                "app_id",
                f"no application with appId {app.app_id} in this tenant (deleted? wrong --tenant?); "
                "remove app_id to create a new registration",
            )
        return matches[0]
    if not app.adopt:
        return None
    if len(matches) > 1:
        listed = "; ".join(describe(m) for m in sorted(matches, key=lambda m: m.app_id))
        raise _error(
            item,
            "adopt",
            f"{len(matches)} applications are named {app.display_name!r}: {listed}; "
            "set app_id to the one to adopt",
        )
    if not matches:
        return None  # nothing to adopt: apply creates the registration
    match = matches[0]
    if match.unique_name and not _same_name(match.unique_name, app.name):
        raise _error(
            item,
            "adopt",
            f"the application named {app.display_name!r} is {describe(match)}, managed under another name; "
            f"use name: {match.unique_name} or set app_id: {match.app_id} to take it over under this name",
        )
    return match


def check_unique(items: Sequence[Any], apps: dict[str, ExistingApp | None]) -> None:
    """Two manifest entries must never converge the same registration in opposite directions."""
    seen: dict[str, str] = {}
    errors: list[ManifestError] = []
    for item in items:
        app = _app(item)
        existing = apps.get(app.name)
        if existing is None:
            continue
        other = seen.setdefault(existing.object_id, app.name)
        if other != app.name:
            error = _error(
                item,
                "app_id" if app.app_id else "name",
                f"resolves to the same registration as app {other!r}: {describe(existing)}",
            )
            if not isinstance(error, ManifestError):
                raise error
            errors.append(error)
    if errors:
        from provisioner.core.errors import ManifestErrors

        raise ManifestErrors(errors)


def adopted_by_name(app: App, existing: ExistingApp | None) -> bool:
    """True when this run found ``existing`` only through its display name."""
    return bool(existing and app.adopt and not app.app_id and not _same_name(existing.unique_name, app.name))


def warnings(items: Sequence[Any], state: TenantState) -> list[ProvisionerError]:
    """One located warning per app adopted by display name: recommend pinning it with ``app_id``."""
    out: list[ProvisionerError] = []
    for item in items:
        app = _app(item)
        existing = state.apps.get(app.name)
        if existing is None or not adopted_by_name(app, existing):
            continue
        out.append(
            _error(
                item,
                "adopt",
                f"adopted {existing.app_id} by its display name {app.display_name!r}; add "
                f"'app_id: {existing.app_id}' to this app (a registration made elsewhere cannot get a "
                "uniqueName, so without app_id renaming it would lose track and create a new one)",
            )
        )
    return out


__all__ = ["adopted_by_name", "check_unique", "describe", "resolve", "warnings"]
