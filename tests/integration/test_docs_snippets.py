"""The documentation's code blocks run, and print what the docs say they print.

Convention for the Markdown pages under ``docs/`` (``docs/reference/`` is generated and
skipped):

* A fenced block whose info string is exactly ``python`` is executed. Every other block is
  only shown: ``python title="src/my_project/settings.py"`` (a file of the reader's own
  project), ``py`` (a fragment), ``bash``, ``yaml``, ``text``...
* A block whose info string is exactly ``text title="Output"`` placed right after an
  executed block (blank lines may separate them) is what that block prints. ``...`` stands
  for any text, across lines too (doctest's ELLIPSIS); trailing whitespace is ignored. Only
  the block's ``print`` calls are compared, not logging.
* The executed blocks of a page run in order in one namespace, like a doctest: a later
  block sees what an earlier one defined. Each page starts afresh, in a new temporary
  working directory, with ``MLFLOW_TRACKING_URI=sqlite:///<that directory>/mlflow.db`` and
  the runner registry holding only the built-in names.
* Error texts are shown by blocks that catch the exception and print it; the expected
  output block then pins both the exception type (the ``except`` clause) and its message.
  Warnings a block expects are recorded with ``warnings.catch_warnings(record=True)``;
  any other warning fails the test (pytest runs with warnings as errors).

Pages whose blocks start processes (a Dask ``LocalCluster``) are marked ``slow``. Two more
checks keep the pages in step with the code: each API reference page renders every name of
its package's ``__all__``, and the ``mlflow.yml`` table of ``configuration.md`` holds exactly
the keys and defaults of ``pipelineml.hooks.tracking._config.DEFAULT_CONFIG``.
"""

from __future__ import annotations

import builtins
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests._support.mlflow_store import copy_store, make_template_store

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

# Pages that must hold executed blocks: a renamed page or a changed fence cannot silently
# turn their examples into untested text.
EXECUTED_PAGES = {
    "pipelineml.md",
    "model.md",
    "serving.md",
    "runners.md",
    "configuration.md",
    "batch-scoring.md",
    "tracking.md",
}
# Pages whose blocks start worker processes.
SLOW_PAGES = {"runners.md", "batch-scoring.md"}

OUTPUT_INFO = 'text title="Output"'
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")

# Third-party warnings raised inside MLflow while it logs a model; nothing in the snippets
# can avoid them (passing input_example= only swaps the second for a pandas deprecation
# raised inside MLflow).
pytestmark = [
    # MLflow's SQL tracking store uses loader options SQLAlchemy 2.1 deprecates.
    pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SADeprecationWarning"),
    # mlflow.pyfunc asks for an input_example whenever a model is logged without one.
    pytest.mark.filterwarnings("ignore:.*An input example was not provided:UserWarning"),
]


@dataclass
class Snippet:
    """One executed block and the output the page says it prints."""

    line: int
    code: str
    expected: str | None = None


@dataclass
class Page:
    """The executed blocks of one page, in order."""

    path: Path
    snippets: list[Snippet] = field(default_factory=list)


def _blocks(text: str) -> Iterator[tuple[int, str, str, int]]:
    """``(first line of content, info string, content, line after the fence)`` per block."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        info = opening["info"].strip()
        body: list[str] = []
        index += 1
        start = index + 1  # 1-based line number of the first content line
        while index < len(lines):
            line = lines[index]
            if line.strip() == fence and line.startswith(indent):
                break
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            index += 1
        index += 1
        yield start, info, "\n".join(body) + "\n", index


def parse_page(path: Path) -> Page:
    """The executed blocks of ``path`` with their expected outputs."""
    page = Page(path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    previous_end, previous_info = -1, ""
    for start, info, body, end in _blocks(text):
        if info == "python":
            page.snippets.append(Snippet(start, body))
        elif info == OUTPUT_INFO:
            between = lines[previous_end : start - 2]
            if previous_info != "python" or any(line.strip() for line in between):
                raise AssertionError(
                    f"{path.name}:{start - 1}: an Output block must directly follow an "
                    "executed ```python block."
                )
            page.snippets[-1].expected = body
        previous_end, previous_info = end, info
    return page


def _pages() -> list[Path]:
    """Every page of the site except the generated API reference."""
    return [
        path
        for path in sorted(DOCS.rglob("*.md"))
        if not path.relative_to(DOCS).as_posix().startswith("reference/")
    ]


def _executed_pages() -> list[Any]:
    """The pages holding executed blocks, as test parameters."""
    params = []
    for path in _pages():
        if not parse_page(path).snippets:
            continue
        relative = path.relative_to(DOCS).as_posix()
        marks = [pytest.mark.slow, pytest.mark.dask] if relative in SLOW_PAGES else []
        params.append(pytest.param(path, id=relative, marks=marks))
    return params


def _matches(expected: str, actual: str) -> bool:
    def normalise(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())

    pattern = ".*?".join(re.escape(part) for part in normalise(expected).split("..."))
    return re.fullmatch(pattern, normalise(actual), flags=re.DOTALL) is not None


@pytest.fixture
def builtin_runners_only() -> Iterator[None]:
    """The runner registry as a fresh process has it, restored afterwards.

    Error messages list the known runners; names other tests registered must not leak into
    them, and names the docs register must not leak out.
    """
    from pipelineml.runners import registry

    # The registry has no public way to forget a name, so the test swaps its content.
    saved = dict(registry._factories)
    builtin = {
        name: factory
        for name, factory in saved.items()
        if name.removeprefix("pipelineml.runners.")
        in {"SequentialRunner", "ThreadRunner", "DaskRunner"}
    }
    registry._factories.clear()
    registry._factories.update(builtin)
    try:
        yield
    finally:
        registry._factories.clear()
        registry._factories.update(saved)


@pytest.fixture(scope="session")
def empty_mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised, empty SQLite MLflow store, to copy (creating its tables takes seconds)."""
    return make_template_store(tmp_path_factory.mktemp("mlflow-store"))


@pytest.fixture
def docs_workdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_mlflow_store: Path
) -> Iterator[Path]:
    """A fresh working directory with its own SQLite MLflow store."""
    import mlflow

    # The page's Default experiment keeps its artifacts in the page's folder.
    copy_store(
        empty_mlflow_store, tmp_path / "mlflow.db", default_artifacts=tmp_path / "mlruns" / "0"
    )
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path.as_posix()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for variable in ("MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    # What a Dask nanny started earlier in this process left in its environment.
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # Forget an experiment another test made active: it does not exist in this store.
    mlflow.set_experiment(experiment_id="0")
    try:
        yield tmp_path
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run("FAILED")
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


@pytest.mark.usefixtures("builtin_runners_only")
@pytest.mark.parametrize("path", _executed_pages())
def test_page_snippets_run_and_print_what_the_page_says(path: Path, docs_workdir: Path) -> None:
    """Every executed block of a page runs, and prints its Output block."""
    page = parse_page(path)
    name = path.relative_to(DOCS).as_posix()
    namespace: dict[str, Any] = {"__name__": f"docs_{path.stem}"}
    for snippet in page.snippets:
        printed = io.StringIO()

        def capture(*args: Any, _out: io.StringIO = printed, **kwargs: Any) -> None:
            kwargs.setdefault("file", _out)
            builtins.print(*args, **kwargs)

        namespace["print"] = capture
        where = f"docs/{name}:{snippet.line}"
        exec(compile(snippet.code, where, "exec"), namespace)
        if snippet.expected is not None:
            assert _matches(snippet.expected, printed.getvalue()), (
                f"{where}: the block printed\n{printed.getvalue()}\n"
                f"but the page shows\n{snippet.expected}"
            )
    # What the page logged stays in its own folder, not in the checkout the tests run from.
    from mlflow.tracking import MlflowClient

    store = MlflowClient(tracking_uri=f"sqlite:///{docs_workdir.as_posix()}/mlflow.db")
    locations = [experiment.artifact_location for experiment in store.search_experiments()]
    assert [where for where in locations if str(docs_workdir) not in where] == []


def test_executed_pages_hold_executed_blocks() -> None:
    """The pages meant to be executed exist and hold ```python blocks (others may too)."""
    executed = {path.relative_to(DOCS).as_posix() for path in _pages() if parse_page(path).snippets}
    assert sorted((EXECUTED_PAGES | SLOW_PAGES) - executed) == []


@pytest.mark.parametrize(
    ("package", "page"),
    [
        ("pipelineml.core", "reference/core.md"),
        ("pipelineml.runners", "reference/runners.md"),
        ("pipelineml.hooks", "reference/hooks.md"),
    ],
)
def test_reference_page_lists_every_public_name(package: str, page: str) -> None:
    """Each API reference page renders every name of its package's ``__all__``."""
    import importlib

    public = importlib.import_module(package).__all__
    text = (DOCS / page).read_text(encoding="utf-8")
    rendered = set(re.findall(rf"^::: {re.escape(package)}\.(?:\w+\.)*?(\w+)$", text, re.M))
    assert sorted(set(public) - rendered) == []


def test_configuration_table_matches_the_defaults() -> None:
    """The mlflow.yml table of configuration.md holds every key with its real default."""
    from pipelineml.hooks.tracking._config import DEFAULT_CONFIG

    def flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                yield from flatten(f"{prefix}.{key}" if prefix else key, inner)
        else:
            yield prefix, value

    def as_yaml(value: Any) -> str:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, str):
            return f'"{value}"'
        return str(value)

    expected = {key: as_yaml(value) for key, value in flatten("", DEFAULT_CONFIG)}
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `([a-z_.]+)` \| `([^`]*)` \|", text, re.M))
    assert table == expected
