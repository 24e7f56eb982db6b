"""A distribution pip-installed from a local folder, as a user's own library would be."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["DISTRIBUTION", "MODULE", "VERSION", "install_local_distribution"]

DISTRIBUTION = "pml-local-helper"
MODULE = "pml_local_helper"
VERSION = "0.3.0"

_SETUP = f"""\
from setuptools import setup

setup(name="{DISTRIBUTION}", version="{VERSION}", packages=["{MODULE}"])
"""
_SOURCE = "def shift(values, by):\n    return values + by\n"


def install_local_distribution(where: Path) -> Path:
    """``pip install --target <where>/site <where>/src``; returns the site folder.

    pip writes the PEP 610 ``direct_url.json`` (``file://<where>/src``) of any install
    from a local folder; the package (``MODULE.shift``) adds a number to a column.
    """
    source = where / "src"
    (source / MODULE).mkdir(parents=True)
    (source / "setup.py").write_text(_SETUP, encoding="utf-8")
    (source / MODULE / "__init__.py").write_text(_SOURCE, encoding="utf-8")
    site = where / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            os.fspath(site),
            os.fspath(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return site
