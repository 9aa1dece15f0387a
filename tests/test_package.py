"""The installed package stands on its own: no module of it imports the project's ``bench`` or
``tests`` (absent from a wheel), every module imports in a fresh interpreter, the modules do not
import each other in a circle, and ``pyqueue bench surge`` runs from a wheel in a fresh
virtualenv.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pyqueue"
#: What a wheel does not contain; the package must never need them.
PROJECT_ONLY = ("bench", "tests")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_nodes(nodes: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node that can run, at module level or in a function: ``if TYPE_CHECKING:``
    blocks aside, which only the type checker reads."""
    for node in nodes:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            yield from runtime_nodes(node.orelse)
            continue
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                yield from runtime_nodes([child])
            else:
                yield from ast.walk(child)


def imported_names(module: str, path: Path) -> Iterator[tuple[str, ast.AST]]:
    """The modules (or ``module.name`` for ``from module import name``) that ``module``
    imports, with the node; ``importlib.import_module("x")`` and ``__import__("x")`` too."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                yield f"{base}.{alias.name}", node
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in ("import_module", "__import__") and isinstance(first, ast.Constant):
                yield str(first.value), node


def test_no_module_of_the_package_imports_bench_or_tests():
    found = [
        f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')} imports {name}"
        for module, path in MODULES.items()
        for name, node in imported_names(module, path)
        if name.split(".")[0] in PROJECT_ONLY
    ]
    assert found == []


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of pyqueue it imports. ``from package import submodule`` is an
    edge to the submodule (as Python resolves it), not to the package's ``__init__``."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module, path in MODULES.items():
        for name, _ in imported_names(module, path):
            target = name if name in MODULES else name.rpartition(".")[0]
            if target in MODULES and target != module:
                graph[module].add(target)
    return graph


#: Deferred imports that close a circle on purpose: the backends' package chooses an
#: implementation by the settings (``open_backend``), and each implementation takes the
#: protocol and the shared errors from the package. Importing the package never loads them.
FACTORY_EDGES = {
    ("pyqueue.backends", "pyqueue.backends.memory"),
    ("pyqueue.backends", "pyqueue.backends.redis_backend"),
}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycles():
    graph = import_graph()
    for source, target in FACTORY_EDGES:
        assert target in graph[source], f"{source} no longer imports {target}: drop the edge"
        graph[source].discard(target)
    assert cycles(graph) == []
    # The cycle that was: the configuration checks the page's settings, which raise the
    # configuration's error; both now take it from the leaf module pyqueue.errors.
    assert graph["pyqueue.errors"] == set()


#: The layers of the README's architecture drawing and what each may import; modules not
#: named here (cli, journal_command, demo, ``__main__``) are entry points and may import any.
LAYERS: dict[str, set[str]] = {
    "pyqueue._core": set(),
    "pyqueue.errors": set(),
    "pyqueue.redis_url": set(),
    "pyqueue.background": set(),
    "pyqueue.web": {"pyqueue.errors"},
    "pyqueue.config": {"pyqueue._core", "pyqueue.errors", "pyqueue.redis_url", "pyqueue.web"},
    "pyqueue.backends": {
        "pyqueue._core",
        "pyqueue.config",
        "pyqueue.background",
        "pyqueue.redis_url",
        "pyqueue.errors",
    },
    "pyqueue.server": {
        "pyqueue._core",
        "pyqueue.backends",
        "pyqueue.config",
        "pyqueue.web",
        "pyqueue.background",
        "pyqueue.errors",
    },
    "pyqueue.surge": set(),
}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    for depth in (2, 1):
        name = ".".join(parts[:depth])
        if name in LAYERS:
            return name
    return None


def test_each_layer_imports_only_what_the_architecture_allows():
    found = []
    for module, targets in import_graph().items():
        layer = layer_of(module)
        if layer is None:
            continue
        for target in targets:
            other = layer_of(target) or target
            if other != layer and other not in LAYERS[layer] and other != "pyqueue":
                found.append(f"{module} imports {target}")
    assert found == []


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


# Run in a fresh interpreter: `bench` and `tests` cannot be imported there (a finder refuses
# them first), and each pyqueue module is imported first in a forked child of its own, so that
# no module is found already imported by another that happened to go before it.
IMPORT_EVERY_MODULE = textwrap.dedent(
    """
    import importlib, os, sys

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ImportError(f"{{name}} is not part of the installed package")
            return None

    sys.meta_path.insert(0, Refuse())
    # The third-party libraries, once, before the forks: the children import only pyqueue.
    for library in ("aiohttp.web", "orjson", "redis.asyncio", "uvloop", "prometheus_client"):
        importlib.import_module(library)
    failed = []
    for module in {modules!r}:
        child = os.fork()
        if child == 0:
            try:
                importlib.import_module(module)
            except BaseException as exc:
                print(f"{{module}}: {{type(exc).__name__}}: {{exc}}", flush=True)
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(child, 0)
        if status != 0:
            failed.append(module)
    print("failed:", failed)
    sys.exit(1 if failed else 0)
    """
)


def test_every_module_imports_first_without_bench_or_tests():
    modules = sorted(MODULES)
    code = IMPORT_EVERY_MODULE.format(blocked=set(PROJECT_ONLY), modules=modules)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed: []" in result.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pyqueue_bench_surge_runs_from_an_installed_wheel(tmp_path: Path):
    # The release wheel, as `make build-release` builds it (the release build of `make
    # build-dev` is reused from target/).
    wheels = tmp_path / "wheels"
    env = {**os.environ, "PYO3_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    maturin = Path(sys.executable).with_name("maturin")
    build = [str(maturin), "build", "--release", "--interpreter", sys.executable]
    subprocess.run(
        [*build, "--out", str(wheels)], cwd=ROOT, env=env, check=True, capture_output=True
    )
    (wheel,) = wheels.glob("pyqueue-*.whl")

    # A fresh virtualenv with nothing but the wheel. Its dependencies are read from this
    # environment's site-packages (a .pth line, so no network is needed): a path in a .pth
    # file joins sys.path after the virtualenv's own, and the .pth files inside it are not
    # read, so the checkout that this environment's editable install points at stays out.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        env=env,
        check=True,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "work"  # neither the checkout nor anything of it
    work.mkdir()
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u, pyqueue; print(pyqueue.__file__); "
            "print([n for n in ('bench', 'tests') if u.find_spec(n)])",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert where == [str(Path(site, "pyqueue", "__init__.py")), "[]"]

    pyqueue = str(venv / "bin" / "pyqueue")
    helped = subprocess.run(
        [pyqueue, "bench", "surge", "--help"], cwd=work, env=env, capture_output=True, text=True
    )
    assert helped.returncode == 0, helped.stderr
    assert "lower-saxony, saarland" in helped.stdout and "--capacity-bookings" in helped.stdout

    # A tiny run of a shipped scenario: 150 visitors and 50 bookings in the capacity phase.
    tiny = ["schleswig-holstein", "--scale", "0.05", "--capacity-bookings", "50"]
    ran = subprocess.run(
        [pyqueue, "bench", "surge", *tiny, "--no-plots", "--output", "reports"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "schleswig-holstein [memory, scale 0.05]: 150 visitors" in ran.stdout
    report = (work / "reports" / "surge-schleswig-holstein.md").read_text()
    assert "Double bookings: **0**" in report
