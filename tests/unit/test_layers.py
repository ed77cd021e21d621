"""The layers, read from the source files' imports (every ``import``, at the top or inside a
function): ``api → services → domain + store``, no arrow back up, and the store sealed: nothing
outside ``chalicelib/store`` imports PynamoDB or botocore."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*sorted((ROOT / "chalicelib").rglob("*.py")), ROOT / "app.py"]

# What only the store may import: DynamoDB's client libraries.
SEALED = ("pynamodb", "botocore")


def imports(source: str, module: str) -> set[str]:
    """The absolute names ``source`` (the text of ``module``) imports, relative imports resolved."""
    found = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


GRAPH = {module_name(p): imports(p.read_text(), module_name(p)) for p in SOURCES}


def _within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in packages)


def _offending(layer: str, forbidden) -> dict[str, list[str]]:
    return {
        module: sorted(n for n in names if forbidden(n))
        for module, names in GRAPH.items()
        if _within(module, layer) and any(forbidden(n) for n in names)
    }


def test_the_scanner_sees_every_kind_of_import():
    source = "import pynamodb.models\nfrom botocore import exceptions\ndef f():\n    from ..store import models\n"

    found = imports(source, "chalicelib.services.example")

    assert {"pynamodb.models", "botocore", "chalicelib.store", "chalicelib.store.models"} <= found


def test_the_graph_covers_every_layer():
    for layer in (
        "app",
        "chalicelib.api",
        "chalicelib.services",
        "chalicelib.domain",
        "chalicelib.store",
        "chalicelib.security",
        "chalicelib.settings",
        "chalicelib.startup",
    ):
        assert any(_within(m, layer) for m in GRAPH), layer


def test_nothing_outside_the_store_imports_pynamodb_or_botocore():
    leaks = {
        module: sorted(n for n in names if _within(n, *SEALED))
        for module, names in GRAPH.items()
        if not _within(module, "chalicelib.store") and any(_within(n, *SEALED) for n in names)
    }

    assert leaks == {}


def test_the_domain_is_pure():
    # No I/O, no framework: the standard library and the domain itself.
    frameworks = ("boto3", "botocore", "pynamodb", "chalice", "pydantic", "aws_lambda_powertools")

    def forbidden(name: str) -> bool:
        if name.startswith("chalicelib"):
            return not _within(name, "chalicelib.domain")
        return _within(name, *frameworks)

    assert _offending("chalicelib.domain", forbidden) == {}


def test_the_store_depends_on_nothing_above_it():
    above = ("chalicelib.api", "chalicelib.services", "chalicelib.security", "chalicelib.startup", "app")

    assert _offending("chalicelib.store", lambda n: _within(n, *above)) == {}


@pytest.mark.parametrize(
    "layer, above",
    [
        ("chalicelib.services", ("chalicelib.api", "chalicelib.startup", "app")),
        ("chalicelib.security", ("chalicelib.api", "chalicelib.services", "chalicelib.startup", "app")),
        # A route calls a service: it never reaches past it into the store.
        ("chalicelib.api", ("chalicelib.store", "chalicelib.startup", "app")),
    ],
)
def test_no_arrow_runs_back_up(layer, above):
    assert _offending(layer, lambda n: _within(n, *above)) == {}


def test_only_the_startup_and_the_app_configure():
    # Settings reach the service through one call, never by importing a module in the right order.
    callers = {m for m, names in GRAPH.items() if "chalicelib.startup.configure" in names}

    assert callers <= {"app"}
