"""Loader: YAML -> LoadedApp with file:line:column on every error, all errors of all files at once."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.core.errors import Location, ManifestError, ManifestErrors
from provisioner.manifest import loader
from provisioner.manifest.loader import MAX_FILE_BYTES, format_path, load, load_paths, load_text
from provisioner.manifest.validate import validate_paths
from provisioner.model.manifest import App

BROKEN = Path(__file__).resolve().parents[1] / "data" / "broken"
MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
_LOCATED = re.compile(r"^(\d+):(\d+): (.*)$")

MINIMAL = "version: 1\napps:\n  - name: demo\n    display_name: Demo\n"


@pytest.fixture(params=["libyaml", "pure"], ids=["libyaml", "pure-python"])
def yaml_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with PyYAML's C parser and with its pure-Python parser: marks must agree."""
    if request.param == "pure":
        monkeypatch.setattr(loader, "_Loader", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml")
    return request.param


# ------------------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("manifest", sorted(BROKEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_broken_corpus(manifest: Path, yaml_backend: str) -> None:
    expected = manifest.with_suffix(".expected").read_text(encoding="utf-8").strip()
    result = validate_paths([str(manifest)])
    assert not result.ok
    rendered = [str(e) for e in result.errors]
    assert all("\n" not in line for line in rendered), "errors must be one line each"
    match = _LOCATED.match(expected)
    if match:
        line, column, fragment = match.groups()
        prefix = f"{manifest}:{line}:{column}: "
        hits = [r for r in rendered if r.startswith(prefix) and fragment in r]
    else:
        hits = [r for r in rendered if r.startswith(f"{manifest}: ") and expected in r]
    assert hits, f"expected {expected!r} in:\n" + "\n".join(rendered)


def test_corpus_has_expectations() -> None:
    for manifest in BROKEN.glob("*.yaml"):
        assert manifest.with_suffix(".expected").is_file(), manifest


# ------------------------------------------------------------------------------------ locations


def test_loaded_app_locations(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        "version: 1\n"
        "apps:\n"
        "  - name: first\n"
        "    display_name: First\n"
        "  - name: second\n"
        "    display_name: Second\n"
        "    permissions:\n"
        "      Microsoft Graph:\n"
        "        delegated:\n"
        "          - User.Read\n"
        "          - Mail.Read\n",
        encoding="utf-8",
    )
    apps = load([path])
    assert [a.app.name for a in apps] == ["first", "second"]
    second = apps[1]
    assert second.source == Location(str(path), 5, 5)
    assert second.index == 1
    perm = ("permissions", "Microsoft Graph", "delegated", 1)
    assert second.locate(perm) == Location(str(path), 11, 13)
    assert second.locate(("permissions", "Microsoft Graph"), key=True) == Location(str(path), 8, 7)
    # a path that is not in the file (a default) falls back to its nearest ancestor
    assert second.locate(("redirect_uris", "web")) == second.source
    error = second.error(perm, "boom")
    assert str(error) == f'{path}:11:13: apps[1].permissions["Microsoft Graph"].delegated[1]: boom'


def test_format_path() -> None:
    assert format_path(("apps", 0, "permissions", "Microsoft Graph", "delegated", 2)) == (
        'apps[0].permissions["Microsoft Graph"].delegated[2]'
    )
    assert format_path(("apps", 1, "extra_values", "a.b")) == 'apps[1].extra_values["a.b"]'
    assert format_path(()) == ""


# ---------------------------------------------------------------------------------- files, folders


def test_folder_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "b" / "z.yml").write_text(MINIMAL.replace("demo", "zed"), encoding="utf-8")
    (tmp_path / "a.yaml").write_text(MINIMAL.replace("demo", "alpha"), encoding="utf-8")
    (tmp_path / ".git" / "x.yaml").write_text("not: [valid", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    apps = load([tmp_path])
    assert [a.app.name for a in apps] == ["alpha", "zed"]
    # naming a file twice (directly and via its folder) loads it once
    assert len(load([tmp_path, tmp_path / "a.yaml"])) == 2


def test_all_errors_of_all_files_in_one_run(tmp_path: Path) -> None:
    (tmp_path / "1.yaml").write_text(MINIMAL + "    audience: nowhere\n    colour: red\n", encoding="utf-8")
    (tmp_path / "2.yaml").write_text("apps: [\n", encoding="utf-8")
    (tmp_path / "3.yaml").write_text(MINIMAL.replace("demo", "fine"), encoding="utf-8")
    apps, errors = load_paths([tmp_path])
    assert [a.app.name for a in apps] == ["fine"]
    assert len(errors) == 3
    assert [e.location.path for e in errors if e.location] == [
        str(tmp_path / "1.yaml"),
        str(tmp_path / "1.yaml"),
        str(tmp_path / "2.yaml"),
    ]
    with pytest.raises(ManifestErrors) as raised:
        load([tmp_path])
    assert len(str(raised.value).splitlines()) == 3


def test_duplicate_app_name_across_files_names_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MINIMAL, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("# second copy\n" + MINIMAL, encoding="utf-8")
    apps, errors = load_paths([tmp_path])
    assert [a.app.name for a in apps] == ["demo"]
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'b.yaml'}:4:11: apps[0].name: duplicate app name 'demo' (first defined at {tmp_path / 'a.yaml'}:3:5)"
    ]


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _, errors = load_paths([tmp_path / "nope.yaml", tmp_path / "empty"])
    assert [e.message for e in errors] == [
        "no such file or folder",
        "no *.yaml or *.yml manifests in this folder",
    ]


def test_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(MINIMAL + "# " + "x" * MAX_FILE_BYTES + "\n", encoding="utf-8")
    _, errors = load_paths([big])
    assert len(errors) == 1
    assert errors[0].message.startswith("file is ") and "limited to 1048576 bytes" in errors[0].message
    _, errors = load_text("#" * (MAX_FILE_BYTES + 1))
    assert "larger than" in errors[0].message


def test_utf8_bom_is_accepted() -> None:
    apps, errors = load_text(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert not errors and apps[0].app.name == "demo"


def test_wide_alias_bomb_is_refused_quickly() -> None:
    layers = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        layers.append(f"a{i}: &a{i} [{refs}]")
    apps, errors = load_text("\n".join(layers) + "\n")
    assert apps == [] and len(errors) == 1 and "aliases" in errors[0].message


def test_quoted_values_stay_text() -> None:
    apps, errors = load_text(MINIMAL + "    extra_values:\n      country: 'NO'\n      build: '2024-01-01'\n")
    assert not errors
    assert apps[0].app.extra_values == {"country": "NO", "build": "2024-01-01"}


def test_half_broken_file_returns_no_apps() -> None:
    apps, errors = load_text(MINIMAL + "  - name: other\n    display_name: Other\n    colour: red\n")
    assert apps == [] and len(errors) == 1


def test_lone_surrogate_in_text() -> None:
    apps, errors = load_text("a: \ud800\n")
    assert apps == [] and "not valid Unicode" in errors[0].message


def test_scenario_manifests_load_with_both_parsers(yaml_backend: str) -> None:
    apps = load([MANIFESTS])
    assert len(apps) == 5


# ------------------------------------------------------------------------------------- properties

_FRAGMENTS = [
    "version: 1\n",
    "apps:\n",
    "  - ",
    "name: ",
    "display_name: ",
    "demo",
    "Demo",
    ":",
    ": ",
    "- ",
    "&a ",
    "*a",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "  ",
    "    ",
    '"',
    "'",
    "!!str ",
    "!!binary ",
    "!x ",
    "---\n",
    "...\n",
    "<<: ",
    "#",
    "|\n",
    ">\n",
    "1",
    "2.5",
    "true",
    "~",
    "null",
    "\t",
    "? ",
    "2024-01-01",
    "0x1F",
    "permissions:\n",
    "Microsoft Graph",
    "delegated",
    "[Mail.Read]",
    "secrets:\n",
    "expires_in: ",
    "90d",
    "sinks:\n",
    "type: json",
    "%YAML 1.1\n",
    "\\",
    "\u00e9",
    "\ufeff",
    "\x00",
    "\x85",
]


def _expect_only_manifest_errors(text: str | bytes) -> None:
    apps, errors = load_text(text, "prop.yaml")
    assert all(isinstance(e, ManifestError) and e.location is not None for e in errors)
    assert all("\n" not in str(e) for e in errors)
    if errors:
        assert apps == []
    assert all(isinstance(a.app, App) for a in apps)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join))
def test_yamlish_input_only_yields_manifest_errors(text: str) -> None:
    _expect_only_manifest_errors(text)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_only_yields_manifest_errors(text: str) -> None:
    _expect_only_manifest_errors(text)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_yield_manifest_errors(data: bytes) -> None:
    _expect_only_manifest_errors(data)


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(string.printable, max_size=12),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.text(string.ascii_lowercase + "_", max_size=14), st.text(max_size=6)),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=25,
)
_app_keys = st.sampled_from([*App.model_fields, "redirect_uri", "secret", "sink"])


@settings(max_examples=200, deadline=None)
@given(
    _json,
    st.sampled_from([None, False, True]),
    st.sampled_from([None, "'", '"']),
)
def test_values_are_what_yaml_safe_load_reads(data: object, flow: bool | None, quote: str | None) -> None:
    """The event-level builder (with its shortcut for text scalars) reads what PyYAML's loader reads."""
    text = yaml.safe_dump(data, default_flow_style=flow, default_style=quote, allow_unicode=True)
    errors: list[ManifestError] = []
    value, _, _, complete = loader.parse_text(text, "same.yaml", errors)
    assert complete and not errors
    assert value == yaml.safe_load(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.dictionaries(_app_keys, _json, max_size=6), max_size=3), st.sampled_from([1, 2, "1", None])
)
def test_structured_garbage_only_yields_manifest_errors(apps: list[dict], version: object) -> None:
    _expect_only_manifest_errors(yaml.safe_dump({"version": version, "apps": apps}))


# PyYAML's *emitter* folds some line-break characters (NEL, LS, PS) into spaces; the loader is not at
# fault, so generated text avoids control and line/paragraph-separator characters.
_chars = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))
_names = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)
_duration = st.sampled_from(["90d", "180d", "6mo", "12mo", "1y", "26w"])
_secret = st.fixed_dictionaries(
    {"name": st.text(string.ascii_letters + " -", min_size=1, max_size=20).filter(str.strip)},
    optional={"expires_in": _duration, "overlap": st.sampled_from(["1d", "3d", "7d"])},
)
_uri = st.sampled_from(
    [
        "https://app.example.com/callback",
        "https://app.example.com",
        "http://localhost:8400/cb",
        "https://x.example.com/a",
    ]
)
_valid_app = st.fixed_dictionaries(
    {
        "name": _names,
        "display_name": st.text(_chars, min_size=1, max_size=40).filter(lambda s: s.strip() == s and s),
    },
    optional={
        "audience": st.sampled_from(
            ["single-tenant", "multi-tenant", "multi-tenant-and-personal", "personal"]
        ),
        "redirect_uris": st.fixed_dictionaries({}, optional={"web": st.lists(_uri, max_size=2, unique=True)}),
        "implicit_grant": st.fixed_dictionaries({}, optional={"id_tokens": st.booleans()}),
        "allow_public_client_flows": st.booleans(),
        "permissions": st.fixed_dictionaries(
            {},
            optional={
                "Microsoft Graph": st.fixed_dictionaries(
                    {},
                    optional={
                        "delegated": st.lists(
                            st.sampled_from(["User.Read", "Mail.Read", "offline_access"]), unique=True
                        ),
                        "application": st.lists(st.sampled_from(["Mail.Read", "Mail.Send"]), unique=True),
                    },
                )
            },
        ),
        "admin_consent": st.booleans(),
        "secrets": st.lists(_secret, max_size=2, unique_by=lambda s: s["name"]),
        "sinks": st.lists(st.builds(lambda p: {"type": "json", "path": f"out/{p}.json"}, _names), max_size=2),
        "owners": st.lists(
            st.sampled_from(["ops@example.com", "00000000-0000-0000-0000-000000000001"]), max_size=2
        ),
        "tags": st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=8), max_size=3),
        "extra_values": st.dictionaries(
            st.text(string.ascii_lowercase, min_size=1, max_size=8), st.text(_chars, max_size=20)
        ),
        "notes": st.text(_chars, max_size=60),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_valid_app, min_size=1, max_size=3, unique_by=lambda a: a["name"]))
def test_valid_manifests_round_trip(apps: list[dict]) -> None:
    expected = [App.model_validate(a) for a in apps]
    for text in (
        yaml.safe_dump({"version": 1, "apps": apps}, allow_unicode=True),
        yaml.safe_dump({"apps": apps}, default_flow_style=True),
    ):
        loaded, errors = load_text(text, "gen.yaml")
        assert errors == []
        assert [a.app for a in loaded] == expected
    # and back again from the model itself
    dumped = [a.model_dump(mode="json", exclude_defaults=True) for a in expected]
    loaded, errors = load_text(yaml.safe_dump({"version": 1, "apps": dumped}, allow_unicode=True))
    assert errors == [] and [a.app for a in loaded] == expected
