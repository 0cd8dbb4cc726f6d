"""The package's layout says what each kind of code may depend on, and these rules keep it true
(docs/architecture.md, "Packages"):

- `domain/`: plain rules on plain data. Imports the standard library, the signing library, and itself only.
- `services/` (use cases): the domain, `ports`, `config`, `observability`; never an adapter, boto3 or an HTTP
  client (`runtime` gives them their adapters).
- `adapters/`: the only modules importing boto3, botocore, aiohttp or httpx.
- nothing under `layers/` imports `devtools` or the CLI, and no two modules import each other in a circle.

Imports are read from the source (ast), module level and inside functions alike; imports under
`if TYPE_CHECKING:` are types only and are left out of the circle check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "common" / "videohook"
IO_LIBRARIES = ("boto3", "botocore", "aiohttp", "httpx", "yarl", "aws_lambda_powertools.utilities.parameters")
DOMAIN_MAY_IMPORT = ("videohook.domain", "standardwebhooks")
SERVICES_MAY_IMPORT = (
    "videohook.domain",
    "videohook.services",
    "videohook.ports",
    "videohook.config",
    "videohook.observability",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, *, runtime_only: bool = False) -> set[str]:
    """Every module `path` imports (absolute names); with `runtime_only`, not those under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(child) for child in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in MODULES}
    return found


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _standard_library(name: str) -> bool:
    import sys

    return name.split(".", maxsplit=1)[0] in sys.stdlib_module_names or name == "__future__"


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("videohook.domain")])
def test_the_domain_imports_only_the_standard_library_and_itself(module):
    outside = {
        name for name in imports(MODULES[module]) if not _standard_library(name) and not _under(name, DOMAIN_MAY_IMPORT)
    }
    assert outside == set(), f"{module} imports {sorted(outside)}"


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("videohook.services")])
def test_use_cases_import_no_adapter_and_no_io_library(module):
    forbidden = {
        name
        for name in imports(MODULES[module], runtime_only=True)
        if (name.startswith("videohook.") and not _under(name, SERVICES_MAY_IMPORT)) or _under(name, IO_LIBRARIES)
    }
    assert forbidden == set(), f"{module} imports {sorted(forbidden)}"


def test_only_adapters_import_aws_or_http_libraries():
    users = {
        module
        for module, path in MODULES.items()
        if any(_under(name, IO_LIBRARIES[:4]) for name in imports(path, runtime_only=True))
    }
    assert users and all(module.startswith("videohook.adapters.") for module in users), sorted(users)


def test_no_layer_module_imports_repository_tooling_or_the_cli():
    for module, path in MODULES.items():
        names = imports(path)
        assert not any(_under(name, ("devtools", "videohook_cli", "videohook.cli", "bench")) for name in names), module


def test_no_import_circles():
    graph = {
        module: {name for name in imports(path, runtime_only=True) if name in MODULES and name != module}
        for module, path in MODULES.items()
    }
    # a package's __init__ importing its own modules is not a circle with them
    graph = {module: {name for name in names if not name.startswith(module + ".")} for module, names in graph.items()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, " -> ".join([*visiting[visiting.index(module) :], module])
        visiting.append(module)
        for name in sorted(graph[module]):
            visit(name)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
