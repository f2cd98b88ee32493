"""Offline validation: catalogue checks, limits, warnings, the scenario manifests, and speed."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.core.errors import ManifestErrors
from provisioner.manifest import ValidationResult, load_text, validate_apps, validate_paths
from provisioner.model.manifest import Audience

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
CUSTOM_API = "11111111-2222-3333-4444-555555555555"


def run(tmp_path: Path, **app: Any) -> ValidationResult:
    body = {"name": "demo", "display_name": "Demo", **app}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "apps": [body]}, sort_keys=False), encoding="utf-8")
    return validate_paths([str(path)])


def messages(items: list) -> list[str]:
    return [e.message for e in items]


# --------------------------------------------------------------------------------- scenarios


def test_scenario_manifests_are_clean() -> None:
    result = validate_paths([str(MANIFESTS)])
    assert result.errors == [] and result.warnings == []
    assert [a.app.name for a in result.apps] == [
        "exchange-connector",
        "outlook-etl",
        "logistics-ops",
        "automation-pkce",
        "ews-test-tool",
    ]
    files = sorted(p.name for p in MANIFESTS.glob("*.yaml"))
    assert files == [
        "01-exchange-connector.yaml",
        "02-outlook-etl.yaml",
        "03-logistics-app.yaml",
        "04-automation-pkce.yaml",
        "05-ews-test-tool.yaml",
    ]


def test_scenarios_declare_what_the_products_need() -> None:
    apps = {a.app.name: a.app for a in validate_paths([str(MANIFESTS)]).apps}
    connector = apps["exchange-connector"]
    assert connector.audience is Audience.MULTI_TENANT and connector.admin_consent
    assert set(connector.permissions["Microsoft Graph"].delegated) == {
        "Calendars.ReadWrite",
        "Contacts.ReadWrite",
        "Mail.ReadWrite",
        "Mail.Send",
        "offline_access",
        "User.Read",
    }
    assert connector.secrets and connector.redirect_uris.web

    etl = apps["outlook-etl"]
    assert {"offline_access", "Mail.Read.Shared", "User.ReadBasic.All"} <= set(
        etl.permissions["Microsoft Graph"].delegated
    )

    logistics = apps["logistics-ops"]
    assert logistics.audience is Audience.MULTI_TENANT_AND_PERSONAL
    assert logistics.permissions["Microsoft Graph"].application == ["Mail.Read", "Mail.Send"]
    assert logistics.admin_consent and logistics.allow_public_client_flows
    assert logistics.implicit_grant.access_tokens and logistics.implicit_grant.id_tokens
    assert set(logistics.redirect_uris.web) == {"https://localhost", "http://localhost"}
    assert logistics.extra_values["mailbox"].endswith("@example.com")

    pkce = apps["automation-pkce"]
    assert pkce.redirect_uris.public_client == ["http://localhost:9999/Callback"] and not pkce.secrets

    ews = apps["ews-test-tool"]
    assert ews.permissions["Office 365 Exchange Online"].delegated == ["EWS.AccessAsUser.All"]

    for app in apps.values():
        kinds = {sink.type for sink in app.sinks}
        assert {"json", "dotenv"} <= kinds
        assert all(getattr(s, "path", "out/").startswith("out/") for s in app.sinks)


# ------------------------------------------------------------------------------ permissions


def test_resource_by_app_id_outside_the_catalogue_is_allowed(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        permissions={CUSTOM_API: {"delegated": ["access_as_user"], "application": ["Jobs.Run"]}},
        admin_consent=True,
        redirect_uris={"web": ["https://app.example.com/cb"]},  # delegated: someone signs in
    )
    assert result.ok and result.warnings == []


def test_duplicates_are_found_even_for_unknown_resources(tmp_path: Path) -> None:
    result = run(tmp_path, permissions={CUSTOM_API: {"delegated": ["a", "a"]}})
    assert messages(result.errors) == [
        'apps[0].permissions["11111111-2222-3333-4444-555555555555"].delegated[1]: '
        "duplicate permission 'a' (already listed on line 8)"
    ]


def test_alias_and_app_id_name_the_same_resource(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        permissions={
            "exchange": {"delegated": ["EWS.AccessAsUser.All"]},
            "00000002-0000-0ff1-ce00-000000000000": {"delegated": ["Mail.Read"]},
        },
    )
    assert len(result.errors) == 1 and "names the same resource as 'exchange'" in result.errors[0].message


def test_privileged_needs_opt_in_only_with_admin_consent(tmp_path: Path) -> None:
    perms = {"Microsoft Graph": {"application": ["Directory.ReadWrite.All"]}}
    refused = run(tmp_path, permissions=perms, admin_consent=True)
    assert len(refused.errors) == 1 and "allow_privileged: true" in refused.errors[0].message
    assert run(tmp_path, permissions=perms, admin_consent=True, allow_privileged=True).ok
    # without admin consent nothing is granted automatically: allowed (with the consent warning)
    assert run(tmp_path, permissions=perms).ok


def test_every_privileged_permission_is_reported(tmp_path: Path) -> None:
    perms = {
        "graph": {
            "delegated": ["AppRoleAssignment.ReadWrite.All", "User.Read"],
            "application": ["RoleManagement.ReadWrite.Directory", "Application.ReadWrite.All"],
        },
        "exchange": {"application": ["full_access_as_app"]},
    }
    result = run(tmp_path, permissions=perms, admin_consent=True)
    assert len(result.errors) == 4
    assert all("is privileged" in m for m in messages(result.errors))


def test_unknown_names_in_several_places_all_reported(tmp_path: Path) -> None:
    perms = {
        "Microsoft Graph": {"delegated": ["Mail.Sendd", "User.Read", "Mail.Raed"], "application": ["openid"]},
        "Microsft Graph": {"delegated": ["User.Read"]},
    }
    result = run(tmp_path, permissions=perms)
    found = messages(result.errors)
    assert len(found) == 4
    assert any("did you mean 'Mail.Send'" in m for m in found)
    assert any("did you mean 'Mail.Read'" in m for m in found)
    assert any(
        "openid is a delegated permission of Microsoft Graph, not an application one" in m for m in found
    )
    assert any("unknown resource 'Microsft Graph' (did you mean 'Microsoft Graph'?)" in m for m in found)


def test_permission_limits(tmp_path: Path) -> None:
    many = {f"{i:08d}-0000-0000-0000-000000000000": {"delegated": ["x"]} for i in range(51)}
    assert any("at most 50" in m for m in messages(run(tmp_path, permissions=many).errors))
    big = {CUSTOM_API: {"delegated": [f"scope{i}" for i in range(401)]}}
    assert any("at most 400" in m for m in messages(run(tmp_path, permissions=big).errors))


# ------------------------------------------------------------------------ redirects, audience


def test_redirect_uri_count_limit_depends_on_audience(tmp_path: Path) -> None:
    uris = [f"https://app.example.com/cb{i}" for i in range(101)]
    assert run(tmp_path, redirect_uris={"web": uris}).ok
    personal = run(tmp_path, audience="personal", redirect_uris={"web": uris})
    assert messages(personal.errors) == [
        "apps[0].redirect_uris: 101 redirect URIs; audience personal allows at most 100"
    ]


def test_same_uri_on_two_platforms_is_not_a_duplicate(tmp_path: Path) -> None:
    assert run(
        tmp_path,
        redirect_uris={"web": ["http://localhost:8080/cb"], "public_client": ["http://localhost:8080/cb"]},
    ).ok


# ---------------------------------------------------------------------------------- warnings


@pytest.mark.parametrize(
    ("app", "fragment"),
    [
        (
            {"secrets": [{"name": "s", "expires_in": "13mo"}], "sinks": [{"type": "json", "path": "o.json"}]},
            "Microsoft recommends less than 12 months",
        ),
        (
            {
                "secrets": [{"name": "s", "overlap": "40d", "rotate_before": "30d"}],
                "sinks": [{"type": "json", "path": "o"}],
            },
            "the previous secret expires before the overlap ends",
        ),
        (
            {
                "audience": "personal",
                "secrets": [{"name": "a"}, {"name": "b"}],
                "sinks": [{"type": "json", "path": "o"}],
            },
            "no room for an overlapping secret",
        ),
        ({"permissions": {"graph": {"application": ["Mail.Read"]}}}, "take effect only after admin consent"),
        ({"permissions": {"graph": {"delegated": ["Group.Read.All"]}}}, "Group.Read.All needs admin consent"),
        ({"allow_privileged": True}, "remove allow_privileged"),
        ({"permissions": {"graph": {}}}, "no permissions listed"),
        ({"implicit_grant": {"id_tokens": True}}, "implicit grant applies to web redirect URIs"),
        ({"redirect_uris": {"web": ["https://*.example.com/cb"]}}, "wildcard redirect URIs are discouraged"),
    ],
)
def test_warnings_do_not_fail(tmp_path: Path, app: dict, fragment: str) -> None:
    result = run(tmp_path, **app)
    assert result.ok, result.errors
    assert any(fragment in m for m in messages(result.warnings)), messages(result.warnings)


@pytest.mark.parametrize("lifetime", ["1y", "12mo", "365d", "180d"])
def test_recommended_lifetimes_do_not_warn(tmp_path: Path, lifetime: str) -> None:
    result = run(
        tmp_path, secrets=[{"name": "s", "expires_in": lifetime}], sinks=[{"type": "json", "path": "o"}]
    )
    assert result.ok and result.warnings == []


def test_warnings_are_located(tmp_path: Path) -> None:
    result = run(tmp_path, secrets=[{"name": "s", "expires_in": "2y"}], sinks=[{"type": "json", "path": "o"}])
    (warning,) = result.warnings
    assert str(warning).startswith(
        f"{tmp_path / 'm.yaml'}:7:17: apps[0].secrets[0].expires_in: expires_in 2y"
    )


# ------------------------------------------------------------------------------------ results


def test_result_keeps_apps_and_raises_on_demand(tmp_path: Path) -> None:
    result = run(tmp_path, permissions={"graph": {"delegated": ["Nope.Nope"]}})
    assert not result.ok and [a.app.name for a in result.apps] == ["demo"]
    with pytest.raises(ManifestErrors, match=r"Nope\.Nope"):
        result.raise_for_errors()
    assert run(tmp_path).ok


def test_hundred_apps_validate_in_under_a_second(tmp_path: Path) -> None:
    """The CI use case: a repo with 100 registrations; the cost includes interpreter start."""
    apps = []
    for i in range(100):
        apps.append(
            {
                "name": f"app-{i:03d}",
                "display_name": f"App {i}",
                "audience": "multi-tenant",
                "redirect_uris": {"web": [f"https://integrations.example.com/{i}/callback"]},
                "permissions": {
                    "Microsoft Graph": {
                        "delegated": [
                            "offline_access",
                            "User.Read",
                            "Mail.ReadWrite",
                            "Mail.Send",
                            "Calendars.ReadWrite",
                        ]
                    },
                    "Office 365 Exchange Online": {"delegated": ["EWS.AccessAsUser.All"]},
                },
                "admin_consent": True,
                "secrets": [{"name": "main", "expires_in": "180d"}],
                "sinks": [
                    {"type": "json", "path": f"out/{i}.json"},
                    {"type": "dotenv", "path": f"out/{i}.env", "dialect": "shell"},
                ],
            }
        )
    for chunk in range(4):
        (tmp_path / f"m{chunk}.yaml").write_text(
            yaml.safe_dump({"version": 1, "apps": apps[chunk * 25 : (chunk + 1) * 25]}), encoding="utf-8"
        )
    code = (
        "import sys\nfrom provisioner.manifest import validate_paths\n"
        f"r = validate_paths([{str(tmp_path)!r}])\n"
        "assert r.ok and len(r.apps) == 100, r.errors\n"
    )
    # CPU seconds of the child (interpreter start included), not wall time: a test beside other
    # workers on a busy 2-core machine waits for a core, but the work it does stays the same.
    # (Wall-clock figures belong to `make bench`.)
    best = float("inf")
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    assert best < 1.0, f"validate of 100 apps used {best:.2f}s of CPU"


_any_text = st.text(max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.one_of(st.sampled_from(["graph", "Microsoft Graph", "exchange", CUSTOM_API]), _any_text),
        st.fixed_dictionaries(
            {},
            optional={
                "delegated": st.lists(_any_text, max_size=3),
                "application": st.lists(_any_text, max_size=3),
            },
        ),
        max_size=3,
    ),
    st.lists(
        st.one_of(_any_text, st.sampled_from(["https://a.example.com", "http://localhost:1/x"])), max_size=3
    ),
    st.sampled_from(["single-tenant", "personal"]),
    st.booleans(),
)
def test_validate_never_raises(permissions: dict, uris: list[str], audience: str, consent: bool) -> None:
    app = {
        "name": "demo",
        "display_name": "Demo",
        "audience": audience,
        "admin_consent": consent,
        "permissions": permissions,
        "redirect_uris": {"web": uris, "public_client": uris},
    }
    loaded, errors = load_text(yaml.safe_dump({"version": 1, "apps": [app]}), "p.yaml")
    app_errors, warnings = validate_apps(loaded)
    for item in [*errors, *app_errors, *warnings]:
        assert item.location is not None and "\n" not in str(item)


def test_one_run_reports_structural_and_catalogue_errors_together(tmp_path: Path) -> None:
    """A typo'd key does not hide a typo'd permission name in the same app."""
    path = tmp_path / "both.yaml"
    path.write_text(
        "apps:\n"
        "  - name: demo\n"
        "    display_name: Demo\n"
        "    redirect_uri: [https://example.com/cb]\n"
        "    permissions:\n"
        "      Microsoft Graph:\n"
        "        delegated: [Mail.Sendd]\n"
    )
    result = validate_paths([str(path)])
    messages = [str(e) for e in result.errors]
    assert any(":4:" in m and "redirect_uri" in m for m in messages), messages
    assert any(":7:" in m and "did you mean 'Mail.Send'" in m for m in messages), messages
    assert result.apps == []  # a file with errors never yields apps to act on
