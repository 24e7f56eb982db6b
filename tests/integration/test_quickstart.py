"""docs/quickstart.md, pasted block by block into a project made by `kedro new`, works.

Between ``<!-- quickstart:begin -->`` and ``<!-- quickstart:end -->`` the page is a recipe,
applied here in order:

* a block with ``title="<path>"`` (any language) is the whole content of that file,
  relative to the current folder (the project root once ``cd my-project`` ran);
* a ``bash`` block is commands, one a line (``\\`` continues a line): ``cd`` changes the
  current folder; ``pip install`` lines are checked, not run (no network here, and the
  test environment is the one they describe): every requirement they name must already
  be installed; every other command runs in ``bash`` with the test environment's
  ``bin`` first on ``PATH`` and must succeed;
* the page starts from a virtual environment with nothing installed, so every program a
  command runs (``kedro``, ``mlflow``...) must come from a distribution an *earlier*
  ``pip install`` line of the page installs, directly or as a dependency: a ``kedro new``
  before ``pip install kedro`` fails;
* other blocks (``text``) are only shown.

Any drift (a file the code imports that the page no longer shows, a catalog entry missing,
a command that fails) fails the test.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution, entry_points
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests._support.process import subprocess_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "quickstart.md"
BEGIN, END = "<!-- quickstart:begin -->", "<!-- quickstart:end -->"
FENCE = re.compile(r"^```(?P<lang>\w*)(?:\s+title=\"(?P<title>[^\"]+)\")?\s*$")
COMMAND_TIMEOUT = 300

# The files a new Kedro project needs from the page; a page that stops showing one fails.
REQUIRED_FILES = {
    "src/my_project/pipelines/classifier/nodes.py",
    "src/my_project/pipelines/classifier/pipeline.py",
    "src/my_project/pipelines/classifier/__init__.py",
    "src/my_project/pipeline_registry.py",
    "conf/base/parameters.yml",
    "conf/base/catalog.yml",
    "make_data.py",
    "score.py",
}


@dataclass(frozen=True)
class Block:
    """One fenced block of the recipe."""

    line: int
    lang: str
    title: str | None
    body: str


def recipe_blocks(text: str) -> list[Block]:
    """The fenced blocks between the begin and end markers, in order."""
    lines = text.splitlines()
    start = lines.index(BEGIN)
    end = lines.index(END)
    blocks: list[Block] = []
    index = start + 1
    while index < end:
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        body: list[str] = []
        index += 1
        first = index + 1
        while lines[index] != "```":
            body.append(lines[index])
            index += 1
        blocks.append(Block(first, opening["lang"], opening["title"], "\n".join(body) + "\n"))
        index += 1
    return blocks


def commands(body: str) -> list[str]:
    """The commands of a bash block, continuation lines joined."""
    joined = body.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip()]


# Programs a fresh virtual environment (or the system) has before anything is installed.
PRESENT_BEFORE_ANY_INSTALL = {"python", "python3", "pip", "curl"}


def installed_by(command: str) -> set[str]:
    """The requirements a `pip install` line names (projects by name, with their extras)."""
    words = shlex.split(command)[2:]
    named: set[str] = set()
    while words:
        word = words.pop(0)
        if word == "-e":
            path = words.pop(0).replace("<repo>", str(ROOT))
            project, _, extras = path.partition("[")
            pyproject = (Path(project) / "pyproject.toml").read_text(encoding="utf-8")
            name = re.search(r'^name = "([^"]+)"', pyproject, re.M)
            assert name, project
            named.add(f"{name[1]}[{extras}" if extras else name[1])
        else:
            named.add(word)
    return named


def dependency_closure(requirements: set[str]) -> set[str]:
    """The canonical names of the installed distributions ``requirements`` pull in."""
    seen: set[str] = set()
    queue = [Requirement(text) for text in requirements]
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        extras = requirement.extras
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue  # check_installed reports it
        for text in requires:
            dependency = Requirement(text)
            marker = dependency.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in {"", *extras}):
                queue.append(dependency)
    return {key for key in seen if "[" not in key}


def check_provided(command: str, installed: set[str]) -> None:
    """The program ``command`` runs comes from a distribution installed earlier on the page."""
    words = [word for word in shlex.split(command) if not re.match(r"^\w+=", word)]
    program = words[0]
    if program in PRESENT_BEFORE_ANY_INSTALL:
        return
    scripts = entry_points(group="console_scripts", name=program)
    assert scripts, f"`{command}`: no installed distribution provides {program!r}"
    providers = {canonicalize_name(script.dist.name) for script in scripts if script.dist}
    assert providers & dependency_closure(installed), (
        f"`{command}` runs {program!r} (from {sorted(providers)}), which no earlier "
        f"`pip install` line of the page installs (they install {sorted(installed)})"
    )


def check_installed(command: str) -> None:
    """Every requirement of a `pip install` line is satisfied in this environment."""
    words = shlex.split(command)[2:]
    editable: list[str] = []
    plain: list[str] = []
    while words:
        word = words.pop(0)
        if word == "-e":
            editable.append(words.pop(0))
        else:
            plain.append(word)
    for path in editable:
        project = Path(path.replace("<repo>", str(ROOT)).split("[")[0])
        assert (project / "pyproject.toml").is_file(), f"{command}: {path} is not a project"
        name = re.search(r'^name = "([^"]+)"', (project / "pyproject.toml").read_text(), re.M)
        assert name, project
        distribution(name[1])  # raises PackageNotFoundError when not installed
    for word in plain:
        requirement = Requirement(word)
        try:
            installed = distribution(requirement.name)
        except PackageNotFoundError:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{command}: {requirement.name} is not installed")
        assert requirement.specifier.contains(installed.version, prereleases=True), word
        for extra in requirement.extras:
            needed = [
                Requirement(r)
                for r in installed.requires or []
                if f'extra == "{extra}"' in r or f"extra == '{extra}'" in r
            ]
            assert needed, f"{word}: {requirement.name} has no extra {extra!r}"
            for dependency in needed:
                distribution(dependency.name)


def test_recipe_names_every_file_a_new_project_needs() -> None:
    """The page shows nodes, pipeline, registry, parameters, catalog, data and scoring."""
    titles = {block.title for block in recipe_blocks(PAGE.read_text(encoding="utf-8"))}
    assert sorted(REQUIRED_FILES - titles) == []


def test_a_program_run_before_its_install_is_refused() -> None:
    """`kedro new` with nothing installed before it fails; after `pip install kedro` passes."""
    with pytest.raises(AssertionError, match=r"runs 'kedro' \(from \['kedro'\]\), which no"):
        check_provided("kedro new --name my-project", set())

    check_provided("kedro new --name my-project", {"kedro>=1.2"})
    # A dependency counts: pipelineml-hooks brings MLflow; an environment variable is skipped.
    check_provided("MLFLOW_TRACKING_URI=sqlite:///mlflow.db mlflow ui", {"pipelineml-hooks"})
    assert installed_by('pip install -e "<repo>/packages/runners[dask]" kedro') == {
        "pipelineml-runners[dask]",
        "kedro",
    }


def test_recipe_installs_kedro_before_kedro_new() -> None:
    """The recipe's first command installs Kedro, and `kedro new` comes after it."""
    lines = [
        command
        for block in recipe_blocks(PAGE.read_text(encoding="utf-8"))
        if block.lang == "bash"
        for command in commands(block.body)
    ]
    assert lines[0].startswith("pip install ")
    assert "kedro" in {Requirement(text).name for text in installed_by(lines[0])}
    assert lines[1].startswith("kedro new ")


def test_quickstart_works_pasted_into_a_kedro_new_project(tmp_path: Path) -> None:
    """kedro new, the page's files and commands in order: training logs, scoring predicts."""
    env = subprocess_env(sys.executable, {"PYTHONPATH": "", "COLUMNS": "200"})
    # A reader's shell has no MLflow settings: training uses the project's mlflow.db.
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(variable, None)
    cwd = tmp_path
    outputs: dict[str, str] = {}
    installed: set[str] = set()
    for block in recipe_blocks(PAGE.read_text(encoding="utf-8")):
        where = f"docs/quickstart.md:{block.line}"
        if block.title is not None:
            target = cwd / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body, encoding="utf-8")
            continue
        if block.lang != "bash":
            continue
        for command in commands(block.body):
            if command.startswith("cd "):
                cwd = cwd / command[3:].strip()
                assert cwd.is_dir(), f"{where}: {command}"
            elif command.startswith("pip install "):
                check_installed(command)
                installed |= installed_by(command)
            else:
                check_provided(command, installed)
                done = subprocess.run(
                    ["bash", "-c", command],
                    check=False,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=COMMAND_TIMEOUT,
                )
                output = done.stdout + done.stderr
                assert done.returncode == 0, f"{where}: `{command}` failed:\n{output}"
                outputs[command] = output

    project = tmp_path / "my-project"
    assert (project / "mlflow.db").is_file()
    assert (project / "data" / "06_models" / "model.pkl").is_file()
    training = " ".join(outputs["kedro run --pipelines=training"].split())
    assert "Completed 2 out of 2 tasks" in training
    assert outputs["kedro new --name my-project --tools none --example n --telemetry no"]
    predicted = next(out for cmd, out in outputs.items() if "mlflow models predict" in cmd)
    assert '"probability"' in predicted
    scored = outputs["python score.py"]
    assert scored.count("probability") == 2
    assert len(re.findall(r"^4\s+\S+\s+[01]\s*$", scored, re.M)) == 2, scored  # 5 rows each
