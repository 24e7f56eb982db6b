"""The three distributions carry one version, and pin each other to exactly that version.

The version is written once, in ``VERSION`` at the repository root, and read by hatchling
when a package is built; siblings are pinned with ``==`` because runners and hooks import
core's (and hooks imports runners') private modules. These tests read the pyproject files,
the installed metadata, and the metadata of wheels built the two ways a user's installer
builds them: from the package folder, and from the sdist unpacked elsewhere (where
``../../VERSION`` does not exist, so the version must travel in the sdist's ``PKG-INFO``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
PACKAGES = ("core", "runners", "hooks")
DISTRIBUTIONS = {package: f"pipelineml-{package}" for package in PACKAGES}


def project_table(package: str) -> dict[str, Any]:
    """The ``[project]`` table of ``packages/<package>/pyproject.toml``."""
    text = (ROOT / "packages" / package / "pyproject.toml").read_text(encoding="utf-8")
    table: dict[str, Any] = tomllib.loads(text)["project"]
    return table


def sibling_requirements(requirements: list[str]) -> list[Requirement]:
    """The requirements on pipelineml-* distributions among ``requirements``."""
    parsed = [Requirement(text) for text in requirements]
    return [r for r in parsed if r.name.startswith("pipelineml-")]


def wheel_metadata(wheel: Path) -> Message:
    """The parsed ``*.dist-info/METADATA`` of ``wheel``."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(name).decode("utf-8"))


def build(hook: str, source: Path, out: Path) -> Path:
    """Run hatchling's PEP 517 ``hook`` (build_wheel/build_sdist) in ``source``, in a subprocess."""
    out.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", f"import hatchling.build as b; print(b.{hook}({str(out)!r}))"],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out / result.stdout.strip().splitlines()[-1]


def test_version_file_holds_one_valid_version() -> None:
    """VERSION holds a single PEP 440 version and nothing else."""
    from packaging.version import Version

    assert str(Version(VERSION)) == VERSION


@pytest.mark.parametrize("package", PACKAGES)
def test_pyproject_reads_the_version_from_the_version_file(package: str) -> None:
    """No pyproject writes a version: each declares it dynamic and reads ../../VERSION."""
    pyproject = tomllib.loads(
        (ROOT / "packages" / package / "pyproject.toml").read_text(encoding="utf-8")
    )
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]
    source = pyproject["tool"]["hatch"]["version"]
    assert (ROOT / "packages" / package / source["path"]).resolve() == ROOT / "VERSION"


@pytest.mark.parametrize("package", ["runners", "hooks"])
def test_siblings_are_pinned_to_exactly_this_version(package: str) -> None:
    """Every pipelineml-* requirement, extras included, is `== VERSION` and nothing looser."""
    project = project_table(package)
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra

    pins = sibling_requirements(requirements)

    assert pins, f"pipelineml-{package} should depend on its siblings"
    assert {str(r.specifier) for r in pins} == {f"=={VERSION}"}


@pytest.mark.parametrize("package", PACKAGES)
def test_installed_version_and_dunder_version_are_the_version_file(package: str) -> None:
    """The installed distribution and pipelineml.<package>.__version__ both say VERSION."""
    module = importlib.import_module(f"pipelineml.{package}")

    assert importlib.metadata.version(DISTRIBUTIONS[package]) == VERSION
    assert module.__version__ == VERSION


@pytest.mark.slow
@pytest.mark.parametrize("package", PACKAGES)
def test_wheels_from_the_folder_and_from_the_sdist_carry_version_and_pins(
    package: str, tmp_path: Path
) -> None:
    """Both wheels (folder, unpacked sdist) say VERSION and pin siblings with == VERSION."""
    folder = ROOT / "packages" / package
    sdist = build("build_sdist", folder, tmp_path / "sdist")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    assert not (unpacked.parent.parent / "VERSION").exists()

    wheels = [
        build("build_wheel", folder, tmp_path / "from_folder"),
        build("build_wheel", unpacked, tmp_path / "from_sdist"),
    ]

    for wheel in wheels:
        metadata = wheel_metadata(wheel)
        assert metadata["Name"] == DISTRIBUTIONS[package]
        assert metadata["Version"] == VERSION
        pins = sibling_requirements(metadata.get_all("Requires-Dist") or [])
        assert {str(r.specifier) for r in pins} == ({f"=={VERSION}"} if pins else set())
        assert bool(pins) is (package != "core"), wheel.name
