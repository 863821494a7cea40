"""The house's layout rules, checked (issue 11): the domain imports no web framework, the
dependencies pyproject.toml declares are the ones the code imports, and the tests follow the
layers (one folder per layer, as docs/conventions.md lists them)."""

import ast
import importlib.metadata
import re
import tomllib

from carto import ROOT

WEB_FRAMEWORKS = ("fastapi", "starlette")
# Declared but imported under no name the code uses: they are needed some other way.
NOT_IMPORTED = {
    "uvicorn": "carto serve runs it (imported in the function), and it serves the app",
    "psycopg": "SQLAlchemy's driver (postgresql+psycopg://); also imported by name",
    "python-multipart": "Starlette imports it to parse the uploads of POST /api/imports",
    "xstatic-leaflet": "api.assets imports xstatic.pkg.leaflet by name (importlib)",
    "xstatic-font-awesome": "api.assets imports xstatic.pkg.font_awesome by name (importlib)",
}


def _imports(paths: list) -> set[str]:  # type: ignore[type-arg]
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_the_domain_imports_no_web_framework() -> None:
    offenders = []
    for path in sorted(ROOT.joinpath("carto").rglob("*.py")):
        found = _imports([path]) & set(WEB_FRAMEWORKS)
        if found:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(found)}")
    assert offenders == [], "carto/ is the domain: HTTP lives in api/"


def _declared(group: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~;\s]", spec, maxsplit=1)[0].lower().replace("_", "-")
            for spec in group}


def _import_names(distribution: str) -> set[str]:
    mapping = importlib.metadata.packages_distributions()
    return {name for name, dists in mapping.items()
            if distribution in {d.lower().replace("_", "-") for d in dists}}


def test_declared_dependencies_are_used() -> None:
    project = tomllib.loads(ROOT.joinpath("pyproject.toml").read_text())["project"]
    runtime = _imports(sorted([*ROOT.joinpath("carto").rglob("*.py"),
                               *ROOT.joinpath("api").rglob("*.py"),
                               *ROOT.joinpath("migrations").rglob("*.py")]))
    unused = sorted(d for d in _declared(project["dependencies"])
                    if d not in NOT_IMPORTED and not _import_names(d) & runtime)
    assert unused == [], "declared in pyproject.toml, imported nowhere in carto/, api/"
    dev = _declared(project["optional-dependencies"]["dev"])
    tests = _imports(sorted([*ROOT.joinpath("tests").rglob("*.py"),
                             *ROOT.joinpath("bench").rglob("*.py")]))
    # run as commands (make lint, make test) or loaded by pytest (-n: pytest-xdist)
    tools = {"ruff", "mypy", "pytest", "pytest-xdist"}
    assert sorted(d for d in dev - tools if not _import_names(d) & tests) == []


def test_imported_third_party_packages_are_declared() -> None:
    project = tomllib.loads(ROOT.joinpath("pyproject.toml").read_text())["project"]
    declared = _declared(project["dependencies"])
    provided = set().union(*(_import_names(d) for d in declared))
    # what the declared packages bring along and the code may import directly
    provided |= {"pandas", "starlette", "pydantic_core", "anyio", "greenlet", "markupsafe", "branca",
                 "yaml", "httpx", "limits", "xstatic", "swagger_ui_bundle"}
    code = _imports(sorted([*ROOT.joinpath("carto").rglob("*.py"),
                            *ROOT.joinpath("api").rglob("*.py")]))
    import sys

    third_party = {n for n in code - set(sys.stdlib_module_names) if n not in ("carto", "api")}
    assert sorted(third_party - provided) == []


def test_the_licence_is_an_spdx_expression() -> None:
    pyproject = tomllib.loads(ROOT.joinpath("pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "AGPL-3.0-or-later"
    requires = " ".join(pyproject["build-system"]["requires"])
    major = int(re.search(r"setuptools>=(\d+)", requires).group(1))  # type: ignore[union-attr]
    assert major >= 77  # the first setuptools reading PEP 639's `license = "SPDX"`


def test_browser_tests_are_marked() -> None:
    """`pytest -m "not browser"` must leave out every test that starts Chromium."""
    unmarked = []
    for path in sorted(ROOT.joinpath("tests").rglob("test_*.py")):
        if path.stem.endswith("_browser"):
            continue  # marked by tests/conftest.py
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            calls = {getattr(n.func, "id", "") for n in ast.walk(node) if isinstance(n, ast.Call)}
            marks = {ast.unparse(d) for d in node.decorator_list}
            if calls & {"browser", "open_page"} and "pytest.mark.browser" not in marks:
                unmarked.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert unmarked == []


def test_browser_waits_poll_with_functions() -> None:
    """Playwright evaluates a string predicate with eval(), which the pages' CSP forbids:
    `wait_for_function("() => …")`, never `wait_for_function("…")`."""
    found = []
    for path in sorted(ROOT.joinpath("tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == \
                    "wait_for_function" and node.args and isinstance(node.args[0], ast.Constant):
                text = str(node.args[0].value)
                if "=>" not in text and not text.lstrip().startswith("function"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


# The folders of tests/, one per layer (docs/conventions.md, "Tests"); tests/ itself holds only
# the shared fixtures and helpers.
TEST_FOLDERS = {"domain", "api", "pages", "io", "ogc", "cli", "house", "bench"}


def test_tests_follow_the_layers() -> None:
    tests = ROOT.joinpath("tests")
    flat = sorted(p.name for p in tests.glob("test_*.py"))
    assert flat == [], "a test file goes into the folder of its layer (docs/conventions.md)"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and any(p.rglob("test_*.py"))}
    assert folders == TEST_FOLDERS
    # each folder is a package: two layers may then hold test files of the same name
    assert sorted(f for f in folders if not tests.joinpath(f, "__init__.py").exists()) == []
    conventions = ROOT.joinpath("docs", "conventions.md").read_text(encoding="utf-8")
    assert sorted(f for f in TEST_FOLDERS if f"`tests/{f}/`" not in conventions) == []


def test_test_files_named_in_the_docs_exist() -> None:
    """A test named as the proof of a rule (docs, README, comments) is one that exists."""
    named: list[tuple[str, str]] = []
    sources = [ROOT / "README.md", *ROOT.joinpath("docs").glob("*.md"), ROOT / "pyproject.toml",
               *ROOT.joinpath("carto").rglob("*.py"), *ROOT.joinpath("api").rglob("*.py"),
               *ROOT.joinpath("bench").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py")]
    for path in sources:
        for found in re.findall(r"\btests/[\w/]+\.py", path.read_text(encoding="utf-8")):
            if not ROOT.joinpath(found).exists():
                named.append((str(path.relative_to(ROOT)), found))
    assert named == []


def _tree() -> str:
    conventions = ROOT.joinpath("docs", "conventions.md").read_text(encoding="utf-8")
    return conventions.split("## The tree", 1)[1].split("```", 2)[1]


def test_the_tree_in_the_conventions_names_every_module() -> None:
    """docs/conventions.md's tree has a line per module of carto/ and api/, and a package's
    line (and the lines under it) names each of its modules."""
    lines = _tree().splitlines()
    names = {line.split()[0] for line in lines if line.strip()}
    missing = []
    for top in ("carto", "api"):
        for path in sorted(ROOT.joinpath(top).iterdir()):
            if path.suffix == ".py" and path.stem != "__init__" and path.name not in names:
                missing.append(f"{top}/{path.name}")
            elif path.is_dir() and path.joinpath("__init__.py").exists():
                if f"{path.name}/" not in names:
                    missing.append(f"{top}/{path.name}/")
                    continue
                if path.name == "routers":
                    continue  # one module per resource or page family, named by their routes
                start = next(i for i, line in enumerate(lines)
                             if line.split() and line.split()[0] == f"{path.name}/")
                block = " ".join([lines[start], *[x for x in lines[start + 1:start + 4]
                                                  if x.startswith(" " * 10)]])
                missing += [f"{top}/{path.name}/{m.stem}" for m in sorted(path.glob("*.py"))
                            if m.stem != "__init__" and not re.search(rf"\b{m.stem}\b", block)]
    assert missing == []


def test_the_readme_says_what_is_where() -> None:
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    table = readme.split("## What is where", 1)[1].split("\n## ", 1)[0]
    expected = [f"`carto/{p.name}/`" for p in sorted(ROOT.joinpath("carto").iterdir())
                if p.is_dir() and p.joinpath("__init__.py").exists()]
    expected += ["`api/`", "`tests/`", "`bench/`", "`migrations/`", "`docs/`"]
    assert [e for e in expected if e not in table] == []
