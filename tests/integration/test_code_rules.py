"""The rules of docs/contributing.md ("Rules the code follows"), checked on the sources.

Each check reads the packages' modules with ``ast``: a rule broken anywhere names the file
and the line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
SOURCES = sorted(PACKAGES.glob("*/src/pipelineml/**/*.py"))
MLFLOW_INTERNALS = PACKAGES / "hooks/src/pipelineml/hooks/environment/_mlflow_internals.py"
KEDRO_PRIVATES = PACKAGES / "core/src/pipelineml/core/_kedro.py"


def _nodes(path: Path) -> Iterator[ast.AST]:
    yield from ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(PACKAGES)}:{getattr(node, 'lineno', 0)}"


def test_sources_are_found() -> None:
    """The checks below read every module of the three packages."""
    assert len(SOURCES) > 60
    assert MLFLOW_INTERNALS in SOURCES
    assert KEDRO_PRIVATES in SOURCES


# Calls that override the user's logging or choose behaviour from the caller's stack.
FORBIDDEN_CALLS = {
    "makeRecord",
    "handle",
    "setLevel",
    "disable",
    "_getframe",
    "currentframe",
    "stack",
    "basicConfig",
    "dictConfig",
    "addHandler",
    "captureWarnings",
}


def test_no_logging_override_and_no_stack_inspection() -> None:
    """No module builds log records, sets levels or handlers, or inspects its caller."""
    found = [
        f"{_where(path, node)} {node.func.attr}()"
        for path in SOURCES
        for node in _nodes(path)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in FORBIDDEN_CALLS
        # process.communicate(...)/client.handle... are not logging: only loggers, logging,
        # sys and inspect are looked at.
        and isinstance(node.func.value, ast.Name | ast.Attribute | ast.Call)
        and _receiver(node.func.value) in {"logging", "logger", "sys", "inspect", "getLogger"}
    ]
    assert found == []


def _receiver(value: ast.expr) -> str:
    if isinstance(value, ast.Name):
        return value.id
    if isinstance(value, ast.Attribute):
        return value.attr
    if isinstance(value, ast.Call):
        return _receiver(value.func)
    return ""


def _private_parts(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


def test_mlflow_internals_only_in_their_module() -> None:
    """Only _mlflow_internals imports a private module or name of MLflow."""
    found = []
    for path in SOURCES:
        if path == MLFLOW_INTERNALS:
            continue
        for node in _nodes(path):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlflow"):
                names = [alias.name for alias in node.names]
                if _private_parts(node.module or "") or any(n.startswith("_") for n in names):
                    found.append(f"{_where(path, node)} from {node.module} import {names}")
            if isinstance(node, ast.Import):
                found += [
                    f"{_where(path, node)} import {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("mlflow") and _private_parts(alias.name)
                ]
    assert found == []


def test_nothing_of_another_library_is_replaced() -> None:
    """No module assigns to an attribute of mlflow, kedro, dask or distributed."""
    libraries = {"mlflow", "kedro", "dask", "distributed", "requirements_utils", "cloudpickle"}
    found = []
    for path in SOURCES:
        for node in _nodes(path):
            owners = [
                target.value
                for target in (node.targets if isinstance(node, ast.Assign) else [])
                if isinstance(target, ast.Attribute)
            ]
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
                owners = node.args[:1]
            found += [_where(path, node) for owner in owners if _receiver(owner) in libraries]
    assert found == []


@pytest.mark.parametrize(
    "attribute", ["_EPHEMERAL", "_inputs", "_outputs", "_outputs_to_dictionary", "PACKAGE_NAME"]
)
def test_kedro_privates_only_in_core_kedro(attribute: str) -> None:
    """Kedro's private attributes (and its project's package name) are read in one module."""
    found = [
        _where(path, node)
        for path in SOURCES
        if path != KEDRO_PRIVATES
        for node in _nodes(path)
        if (isinstance(node, ast.Attribute) and node.attr == attribute)
        or (isinstance(node, ast.Constant) and node.value == attribute)
    ]
    assert found == []


def test_kedro_private_helpers_only_in_core_kedro() -> None:
    """Kedro's private functions (``_create_hook_manager``...) are imported in one module."""
    found = [
        f"{_where(path, node)} {node.module}"
        for path in SOURCES
        if path != KEDRO_PRIVATES
        for node in _nodes(path)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("kedro")
        and (
            _private_parts(node.module or "")
            or any(
                alias.name.startswith("_") and not alias.name.endswith("__") for alias in node.names
            )
        )
    ]
    assert found == []


def test_no_module_over_400_lines() -> None:
    """A module of more than 400 lines is more than one concept: split it."""
    long = {
        str(path.relative_to(PACKAGES)): n
        for path in SOURCES
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}
