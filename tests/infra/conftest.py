"""The production package, built once per test session (``packaged``): the deploy drill and
the template tests use the same one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.drill import package


@pytest.fixture(scope="session")
def packaged(tmp_path_factory) -> Path:
    """The directory holding ``sam.json`` and ``deployment.zip``, as ``python -m infra.build --out
    DIR`` writes them (one package for every stage)."""
    return package(tmp_path_factory.mktemp("package"))
