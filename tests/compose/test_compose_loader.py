"""The compose loader: projects, overrides, extends, include, interpolation, YAML safety."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lockdock.compose import views
from lockdock.compose.interpolate import Env, InterpolationError, parse_dotenv, substitute
from lockdock.compose.project import Project, load_projects
from lockdock.compose.yamlread import Node, parse, use_libyaml
from lockdock.context import ScanContext

BACKENDS = ["ruamel", "libyaml"] if use_libyaml("") else ["ruamel"]


def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8", newline="")
    return p


def load(d: Path, *names: str) -> tuple[list[Project], ScanContext]:
    ctx = ScanContext(cwd=d, use_engine=False)
    files = [d / n for n in names] if names else sorted(d.rglob("*compose*.y*ml"))
    return load_projects(files, ctx), ctx


def errors(ctx: ScanContext) -> list[str]:
    return [f"{e.path}: {e.message}" for e in ctx.errors]


# ------------------------------------------------------------------ projects and merging


def test_override_file_merges_and_keeps_its_own_line(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "services:\n  web:\n    image: nginx:1.25\n    ports: ['80:80']\n")
    write(tmp_path, "compose.override.yaml", "services:\n  web:\n    privileged: true\n    ports: ['81:81']\n")
    (project,), ctx = load(tmp_path, "compose.yaml", "compose.override.yaml")
    assert errors(ctx) == []
    web = project.services["web"]
    priv = web.get("privileged")
    assert priv is not None and priv.value is True
    assert priv.file.endswith("compose.override.yaml") and priv.line == 3
    assert [p.published for p in views.ports(web)] == ["80", "81"]
    assert web.key_lines == {str(tmp_path / "compose.yaml"): 2, str(tmp_path / "compose.override.yaml"): 2}


def test_override_is_not_a_project_of_its_own(tmp_path: Path) -> None:
    write(tmp_path, "docker-compose.yml", "services:\n  a:\n    image: x:1\n")
    write(tmp_path, "docker-compose.override.yml", "services:\n  a:\n    user: '1000'\n")
    write(tmp_path, "docker-compose.prod.yml", "services:\n  b:\n    image: y:1\n")
    projects, _ = load(tmp_path)
    assert sorted(p.main.name for p in projects) == ["docker-compose.prod.yml", "docker-compose.yml"]


def test_compose_file_from_dotenv_decides_the_files(tmp_path: Path) -> None:
    write(tmp_path, ".env", "COMPOSE_FILE=base.yml:compose.prod.yaml\n")
    write(tmp_path, "base.yml", "services:\n  a:\n    image: x:1\n")
    write(tmp_path, "compose.prod.yaml", "services:\n  a:\n    read_only: true\n")
    projects, ctx = load(tmp_path, "compose.prod.yaml")
    assert len(projects) == 1
    (project,) = projects
    assert project.main.name == "base.yml"
    assert project.services["a"].value("read_only") is True


def test_anchor_and_merge_key_origin(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml",
          "x-base: &base\n  read_only: yes\n  privileged: no\nservices:\n  web:\n    <<: *base\n"
          "    image: a:1\n  db:\n    <<: *base\n    read_only: false\n")
    (project,), ctx = load(tmp_path)
    web_ro = project.services["web"].get("read_only")
    assert web_ro is not None and web_ro.value is True  # YAML 1.1 boolean
    assert web_ro.anchor == "base" and web_ro.merged and web_ro.line == 2
    db_ro = project.services["db"].get("read_only")
    assert db_ro is not None and db_ro.value is False and db_ro.anchor is None and db_ro.line == 10
    assert project.services["web"].get("privileged").value is False


def test_alias_of_a_whole_list_records_the_anchor(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml",
          "services:\n  a:\n    image: x:1\n    cap_add: &caps\n      - NET_ADMIN\n  b:\n    image: y:1\n    cap_add: *caps\n")
    (project,), _ = load(tmp_path)
    a_caps = project.services["a"].get("cap_add")
    b_caps = project.services["b"].get("cap_add")
    assert a_caps.anchor is None
    assert b_caps.anchor == "caps" and b_caps.value[0].line == 5


def test_extends_same_file_other_file_cycle_and_missing(tmp_path: Path) -> None:
    write(tmp_path, "common.yml", "services:\n  base:\n    image: base:1\n    privileged: true\n")
    write(tmp_path, "compose.yaml",
          "services:\n  a:\n    extends:\n      file: common.yml\n      service: base\n"
          "  b:\n    extends: a\n    user: '1'\n"
          "  c:\n    extends: d\n  d:\n    extends: c\n"
          "  e:\n    extends: nowhere\n")
    (project,), ctx = load(tmp_path, "compose.yaml")
    b = project.services["b"]
    assert b.value("image") == "base:1" and b.get("privileged").file.endswith("common.yml")
    msgs = errors(ctx)
    assert any("extends cycle" in m for m in msgs)
    assert any("'nowhere', which does not exist" in m and "line 14" in m for m in msgs)


def test_extends_file_is_not_its_own_project(tmp_path: Path) -> None:
    write(tmp_path, "docker-compose.common.yml", "services:\n  base:\n    image: base:1\n")
    write(tmp_path, "compose.yaml", "services:\n  a:\n    extends:\n      file: docker-compose.common.yml\n      service: base\n")
    projects, _ = load(tmp_path)
    assert [p.main.name for p in projects] == ["compose.yaml"]


def test_include_local_remote_and_cycle(tmp_path: Path) -> None:
    write(tmp_path, "sub/compose.yaml", "include:\n  - ../compose.yaml\nservices:\n  db:\n    image: postgres:16\n")
    write(tmp_path, "compose.yaml",
          "include:\n  - sub/compose.yaml\n  - https://github.com/x/y.git\n  - path: missing.yaml\nservices:\n  web:\n    image: a:1\n")
    projects, ctx = load(tmp_path, "compose.yaml")
    (project,) = projects
    assert set(project.services) == {"web", "db"}
    assert project.services["db"].get("image").file.endswith("sub/compose.yaml")
    msgs = errors(ctx)
    assert any("remote include" in m and "not analysed" in m for m in msgs)
    assert any("include cycle" in m for m in msgs)
    assert any("missing.yaml not found" in m for m in msgs)


def test_reset_and_override_tags(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x:1\n    ports: ['80:80']\n    cap_add: [NET_ADMIN]\n")
    write(tmp_path, "compose.override.yaml", "services:\n  a:\n    ports: !reset []\n    cap_add: !override [CHOWN]\n")
    (project,), ctx = load(tmp_path, "compose.yaml", "compose.override.yaml")
    a = project.services["a"]
    assert a.get("ports") is None
    assert a.value("cap_add") == ["CHOWN"]
    assert errors(ctx) == []


def test_environment_list_and_map_merge(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x:1\n    environment:\n      - A=1\n      - B=2\n")
    write(tmp_path, "compose.override.yaml", "services:\n  a:\n    environment:\n      B: three\n")
    (project,), _ = load(tmp_path, "compose.yaml", "compose.override.yaml")
    env = {v.name: v.value for v in views.environment(project.services["a"])}
    assert env == {"A": "1", "B": "three"}


# ------------------------------------------------------------------ interpolation


def test_interpolation_forms() -> None:
    env = Env({"SET": "v", "EMPTY": ""}, environ={"FROMENV": "e"})
    notes: list[str] = []
    assert substitute("${SET}", env, notes) == "v"
    assert substitute("${FROMENV}", env, notes) == "e"
    assert substitute("${NOPE:-d}", env, notes) == "d"
    assert substitute("${EMPTY:-d}", env, notes) == "d"
    assert substitute("${EMPTY-d}", env, notes) == ""
    assert substitute("${NOPE-d}", env, notes) == "d"
    assert substitute("$$HOME and $SET", env, notes) == "$HOME and v"
    assert substitute("${NOPE:-${SET}x}", env, notes) == "vx"
    assert substitute("${SET:+alt}", env, notes) == "alt"
    with pytest.raises(InterpolationError):
        substitute("${NOPE?need it}", env, notes)
    with pytest.raises(InterpolationError):
        substitute("${SET", env, notes)


def test_dotenv_parsing() -> None:
    assert parse_dotenv("# c\nexport A=1\nB='two # x'\nC=\"q\\nr\"\nD=val # comment\nbad line\n") == {
        "A": "1", "B": "two # x", "C": "q\nr", "D": "val"}


def test_interpolation_from_dotenv_and_required_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAG", raising=False)
    monkeypatch.delenv("MUST", raising=False)
    write(tmp_path, ".env", "TAG=1.2.3\n")
    write(tmp_path, "compose.yaml",
          "services:\n  a:\n    image: x:${TAG:-latest}\n    read_only: ${RO:-yes}\n    user: ${MUST?set MUST}\n")
    (project,), ctx = load(tmp_path)
    a = project.services["a"]
    assert a.value("image") == "x:1.2.3"
    assert a.get("image").interp == ["TAG from .env"]
    assert a.value("read_only") is True
    assert any("required variable MUST" in m and "line 5" in m for m in errors(ctx))


# ------------------------------------------------------------------ bad input (RELIABILITY rows)


@pytest.mark.parametrize(
    ("text", "needle", "line"),
    [
        ("services:\n\tweb:\n", "invalid YAML", 2),
        ("services:\n  a:\n    image: x\n    image: y\n", "duplicate key 'image'", 4),
        ("x: &a {k: 1}\ny:\n  <<: *a\n  <<: *a\n", "duplicate merge key", 4),
        ("", "empty compose file", 1),
        ("# only a comment\n\n", "empty compose file", 1),
        ("- a\n- b\n", "must be a mapping, this one is a list", 1),
        ("just a string\n", "must be a mapping, this one is a single value", 1),
        ("a: &a [*a]\n", "recursive alias", None),
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_yaml_is_a_problem_with_a_line(text: str, needle: str, line: int | None, backend: str) -> None:
    result = parse(text, "/x/compose.yaml", backend)
    assert any(needle in p.message for p in result.problems), [p.message for p in result.problems]
    if line is not None:
        assert any(p.line == line for p in result.problems if needle in p.message)


def test_multi_document_is_a_warning_and_first_document_is_used() -> None:
    result = parse("services:\n  a:\n    image: x\n---\nservices:\n  b: {}\n", "/c.yaml")
    assert result.root is not None and list(result.root.get("services").value) == ["a"]
    assert any("2 YAML documents" in w.message and w.line == 5 for w in result.warnings)


def test_depth_5000_is_refused_without_recursion_error() -> None:
    for text in ("a: " + "[" * 5000 + "]" * 5000 + "\n",
                 "".join("  " * i + f"k{i}:\n" for i in range(5000)) + "  " * 5000 + "v: 1\n"):
        start = time.monotonic()
        result = parse(text, "/deep.yaml")
        assert result.root is None and result.problems
        assert "depth" in result.problems[0].message or "deep" in result.problems[0].message
        assert time.monotonic() - start < 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_alias_bomb_hits_the_node_budget_quickly(backend: str) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    lines.append("services:\n  s:\n    image: x\n    labels: *a9")
    start = time.monotonic()
    result = parse("\n".join(lines) + "\n", "/bomb.yaml", backend)
    assert time.monotonic() - start < 10
    assert result.root is None
    assert any("alias bomb" in p.message for p in result.problems)


@pytest.mark.parametrize("backend", BACKENDS)
def test_python_tags_are_inert(tmp_path: Path, backend: str) -> None:
    marker = tmp_path / "pwned"
    text = f"services:\n  a:\n    image: !!python/object/apply:os.system ['touch {marker}']\n"
    result = parse(text, "/t.yaml", backend)
    assert not marker.exists()
    assert any("unknown tag" in w.message for w in result.warnings)
    assert result.root is not None


def test_yaml_error_message_does_not_quote_the_source_line() -> None:
    result = parse("services:\n  a:\n    environment:\n      PASSWORD: hunter2hunter2\n   bad: [\n", "/s.yaml")
    assert result.problems
    assert all("hunter2" not in p.message for p in result.problems)


def test_wrong_types_are_errors_and_the_rest_is_analysed(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml",
          "services:\n  a:\n    image: x:1\n    ports: 80\n    privileged: true\n    bogus: 1\n  b: [1]\n"
          "  c:\n  d:\n    user: '1'\n")
    (project,), ctx = load(tmp_path)
    msgs = errors(ctx)
    assert any("line 4" in m and "`ports` must be a list, not a number" in m for m in msgs)
    assert any("unknown key 'bogus'" in m for m in msgs)
    assert any("service 'b' must be a mapping" in m for m in msgs)
    assert any("service 'c' is empty" in m and "line 8" in m for m in msgs)
    assert any("service 'd' has neither an image nor a build context" in m and "line 9" in m for m in msgs)
    assert set(project.services) == {"a", "d"}
    a = project.services["a"]
    assert a.get("ports") is None and a.value("privileged") is True


def test_enormous_file_is_skipped_with_an_error(tmp_path: Path) -> None:
    p = tmp_path / "compose.yaml"
    p.write_text("x-pad: '" + "a" * (3 * 1024 * 1024) + "'\n")
    projects, ctx = load(tmp_path)
    assert any("size cap" in m for m in errors(ctx))
    assert projects[0].services == {}


def test_offsets_are_into_decoded_text_with_bom_and_crlf(tmp_path: Path) -> None:
    p = tmp_path / "compose.yaml"
    p.write_bytes(b"\xef\xbb\xbfservices:\r\n  web:\r\n    image: \"nginx:latest\"\r\n")
    (project,), _ = load(tmp_path)
    node = project.services["web"].get("image")
    text = project.loaded[str(p)].text.text
    assert text[node.start:node.end] == '"nginx:latest"'
    assert text[node.key_start:node.key_end] == "image"
    assert node.line == 3


def test_deep_text_never_reaches_libyaml_composition() -> None:
    """Deep nesting either goes to ruamel (depth-limited), or libyaml itself refuses it
    while parsing (newer libyaml builds have a nesting limit): never a deep composition."""
    if len(BACKENDS) < 2:
        pytest.skip("PyYAML with libyaml is not installed")
    import yaml

    for text in (
        "a: " + "[" * 50000 + "]" * 50000,
        "- " * 50000 + "x\n",
        'x: "' + "]" * 60000 + '"\n' + "a: " + "[" * 50000 + "]" * 50000,
    ):
        if use_libyaml(text):
            with pytest.raises(yaml.YAMLError):
                list(yaml.parse(text, Loader=yaml.CSafeLoader))
        result = parse(text, "deep.yaml")
        assert result.root is None and result.problems


def test_big_shallow_file_is_parsed_quickly() -> None:
    """Many list items (a high cheap bound) but shallow: libyaml, not the slow fallback."""
    big = "services:\n" + "".join(
        f"  s{i}:\n    image: nginx:1.{i}\n    ports: ['{8000 + i % 1000}:80']\n    cap_drop: [ALL]\n"
        for i in range(5000))
    if len(BACKENDS) == 2:
        assert use_libyaml(big)
    start = time.monotonic()
    result = parse(big, "/big.yaml")
    assert result.root is not None and len(result.root.get("services").value) == 5000
    assert time.monotonic() - start < 30


SAMPLE = """\
# comment
x-base: &base
  read_only: yes   # YAML 1.1 boolean
  labels: {a: "1"}
services:
  web:
    <<: *base
    image: 'nginx:1.25.3'
    ports:
      - "8080:80"
      - target: 443
        published: 8443
    command: |
      run
      it
    cap_add: &caps [NET_ADMIN, !!str yes]
    x-n: !reset null
  db:
    cap_add: *caps
    environment: !override
      - A=1
"""


def _shape(node: Node) -> object:
    children: object = None
    if node.kind == "map":
        children = {k: _shape(v) for k, v in node.value.items()}
    elif node.kind == "seq":
        children = [_shape(v) for v in node.value]
    return (node.kind, children if children is not None else node.value, node.start, node.end, node.line,
            node.end_line, node.column, node.style, node.tag, node.anchor, node.merged, node.key_start,
            node.key_line)


@pytest.mark.skipif(len(BACKENDS) < 2, reason="PyYAML with libyaml is not installed")
def test_backends_build_identical_trees() -> None:
    text = SAMPLE
    a, b = parse(text, "/s.yaml", "ruamel"), parse(text, "/s.yaml", "libyaml")
    assert a.root is not None and b.root is not None
    assert _shape(a.root) == _shape(b.root)
    web = a.root.get("services").get("web")
    assert text[web.get("image").start:web.get("image").end] == "'nginx:1.25.3'"
    caps = a.root.get("services").get("web").get("cap_add")
    assert text[caps.start:caps.start + 1] == "[" and caps.anchor is None
    assert caps.value[1].value == "yes" and caps.value[1].tag == "!!str"
    assert a.root.get("services").get("db").get("cap_add").anchor == "caps"
    assert a.root.get("services").get("db").get("environment").tag == "!override"
    crlf = SAMPLE.replace("\n", "\r\n")
    assert _shape(parse(crlf, "/c.yaml", "ruamel").root) == _shape(parse(crlf, "/c.yaml", "libyaml").root)


def test_secret_short_and_long_syntax_and_files(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml",
          "services:\n  a:\n    image: x:1\n    secrets:\n      - db\n      - source: api\n        target: /etc/api.key\n"
          "      - source: tls\n        target: tls.pem\nsecrets:\n  db:\n    file: ./secrets/db.txt\n"
          "  api:\n    file: api.key\n  tls:\n    external: true\n")
    (project,), _ = load(tmp_path)
    refs = [(r.source, r.target) for r in views.secret_refs(project.services["a"])]
    assert refs == [("db", "/run/secrets/db"), ("api", "/etc/api.key"), ("tls", "/run/secrets/tls.pem")]
    files = {s.name: s.path for s in views.secret_files(project)}
    assert files == {"db": str(tmp_path / "secrets" / "db.txt"), "api": str(tmp_path / "api.key")}


def test_one_megabyte_line_is_bounded(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml",
          "services:\n  a:\n    image: x:1\n    environment:\n      BLOB: '" + "ab" * 500_000 + "'\n"
          "      API_KEY: '" + "k" * 1_000_000 + "'\n")
    start = time.monotonic()
    (project,), ctx = load(tmp_path)
    assert len(views.environment(project.services["a"])) == 2
    assert time.monotonic() - start < 20


def test_service_keys_follow_the_compose_spec(shared_dir: Path) -> None:
    """Every service key of the compose specification is known (read from ../shared)."""
    import json

    from lockdock.compose import schema

    spec = shared_dir / "conformance" / "compose-spec" / "compose-spec.json"
    if not spec.is_file():
        pytest.skip("compose-spec.json is not present")
    data = json.loads(spec.read_text())
    assert set(data["definitions"]["service"]["properties"]) == schema.SERVICE_KEYS
    assert set(data["properties"]) == schema.TOP_KEYS


def test_valid_odd_shapes_are_not_type_errors(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml",
          "services:\n  a:\n    image: x:1\n    storage_opt: {size: 1G}\n    gpus: all\n    models: [m]\n"
          "    env_file:\n      - path: ./a.env\n        required: false\n    ports: []\n    tmpfs: /run\n")
    _, ctx = load(tmp_path)
    assert errors(ctx) == []
