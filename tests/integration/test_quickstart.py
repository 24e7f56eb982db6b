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
from pathlib import Path

import pytest
from packaging.requirements import Requirement

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


def check_installed(command: str) -> None:
    """Every requirement of a `pip install` line is satisfied in this environment."""
    from importlib.metadata import PackageNotFoundError, distribution

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


def test_quickstart_works_pasted_into_a_kedro_new_project(tmp_path: Path) -> None:
    """kedro new, the page's files and commands in order: training logs, scoring predicts."""
    env = subprocess_env(sys.executable, {"PYTHONPATH": "", "COLUMNS": "200"})
    # A reader's shell has no MLflow settings: training uses the project's mlflow.db.
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(variable, None)
    cwd = tmp_path
    outputs: dict[str, str] = {}
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
            else:
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
    predicted = next(out for cmd, out in outputs.items() if "mlflow models predict" in cmd)
    assert '"probability"' in predicted
    scored = outputs["python score.py"]
    assert scored.count("probability") == 2
    assert len(re.findall(r"^4\s+\S+\s+[01]\s*$", scored, re.M)) == 2, scored  # 5 rows each
