"""The pre-flight report: which file it names, and how it lists problems of several models."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipelineml.hooks.tracking._conf_files import ConfFiles
from pipelineml.hooks.tracking._problems import Problem, format_problems


def _conf(root: Path) -> ConfFiles:
    for env, content in (("base", {"model": {"type": "MemoryDataset"}}), ("local", {})):
        (root / "conf" / env).mkdir(parents=True)
        (root / "conf" / env / "catalog.yml").write_text(yaml.safe_dump(content))
    (root / "conf" / "local" / "catalog").mkdir()
    (root / "conf" / "local" / "catalog" / "models.yml").write_text(
        yaml.safe_dump({"scaler": {"type": "MemoryDataset"}})
    )
    return ConfFiles(root, root / "conf", "base", "local")


def test_the_declaring_file_is_named(tmp_path: Path) -> None:
    """An entry is traced to the file declaring it, the run's environment first."""
    conf = _conf(tmp_path)

    assert conf.declaring("catalog", "model") == "conf/base/catalog.yml"
    assert conf.declaring("catalog", "scaler") == "conf/local/catalog/models.yml"


def test_an_undeclared_entry_points_to_the_base_file(tmp_path: Path) -> None:
    """A name no file declares is to be added to conf/base/<kind>.yml."""
    conf = _conf(tmp_path)

    assert conf.declaring("catalog", "encoder") == "conf/base/catalog.yml"
    assert conf.declaring("parameters", "threshold") == "conf/base/parameters.yml"


def test_problems_of_several_models_say_whose_they_are() -> None:
    """With two PipelineMLs, each numbered problem is prefixed with its PipelineML."""
    block = format_problems(
        [
            Problem("model", "'model' is a MemoryDataset.", "conf/base/catalog.yml", "a"),
            Problem("params:t", "'params:t' is not defined.", None, "b"),
        ],
        ["a", "b"],
        "No node has run.",
    )

    assert block.splitlines() == [
        "pipelineml pre-flight check: 2 problems would stop the models of PipelineMLs 'a', "
        "'b' from being logged after training.",
        "  1. [a] 'model' is a MemoryDataset.",
        "     Fix it in conf/base/catalog.yml.",
        "  2. [b] 'params:t' is not defined.",
        "No node has run.",
    ]
