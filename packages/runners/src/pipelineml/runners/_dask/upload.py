"""Make the Kedro project's own package importable on external Dask workers.

Tasks pickle a project's node functions by reference (``my_project.nodes.fit``), so a
worker that cannot import ``my_project`` fails every task with ``ModuleNotFoundError``.
Before a run, the runner asks each worker where it imports the package from; when one
cannot import it, the package (its folder, zipped) is registered as distributed's
``UploadFile`` worker plugin (what ``Client.upload_file`` does, without the scheduler):
each worker writes the zip into its local directory, puts it first on ``sys.path`` and
imports it, and workers that join later get it too. Nothing is installed on the workers and no worker is restarted.

Only the project's package travels: its dependencies must already be installed on the
workers, as on any Dask cluster.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from pipelineml.runners.errors import ProjectUploadError

logger = logging.getLogger("pipelineml.runners.dask")

# Zip names are "<package>-<digest>.zip": a worker tells from a module's path whether it
# came from an upload, and from which version of the code.
_DIGEST_LENGTH = 16


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    locations = list(spec.submodule_search_locations)
    return Path(locations[0]) if len(locations) == 1 else None


def _files(package_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in package_dir.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def _digest(package_dir: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:_DIGEST_LENGTH]


def upload_marker(package: str, digest: str) -> str:
    """The file name of the uploaded zip for this version of ``package``."""
    return f"{package}-{digest}.zip"


def probe(package: str, marker: str) -> str:
    """Runs on a worker: ``"ready"``, ``"missing"`` or ``"stale"`` for ``package``.

    ``"ready"``: the package is importable (installed, on ``PYTHONPATH``, or this very
    upload). ``"stale"``: an earlier upload of different code is imported or first on
    ``sys.path``; its modules are forgotten here, so the new upload is imported afresh
    (tasks already running keep the functions they hold).
    """
    prefix = f"{package}-"
    module = sys.modules.get(package)
    origin = getattr(module, "__file__", None) if module is not None else None
    if origin is None:
        spec = importlib.util.find_spec(package)
        origin = spec.origin if spec is not None else None
    if origin is None:
        return "missing"
    uploaded = [part for part in Path(origin).parts if part.startswith(prefix)]
    if not uploaded or uploaded[-1] == marker:
        return "ready"
    for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
        del sys.modules[name]
    sys.path[:] = [
        entry
        for entry in sys.path
        if not (os.path.basename(entry).startswith(prefix) and entry.endswith(".zip"))
    ]
    importlib.invalidate_caches()
    return "stale"


def ship_project_package(client: Any, package: str | None) -> str | None:
    """Upload ``package`` to the workers of ``client`` unless they can all import it.

    Args:
        client: A connected ``distributed.Client``.
        package: The Kedro project's package name (``None`` outside a project: nothing
            to do).

    Returns:
        The digest of the uploaded code, or ``None`` when nothing was uploaded.

    Raises:
        ProjectUploadError: When the package is not a folder on this machine, or a
            worker fails to import the uploaded package; the message names the package
            and the fix.
    """
    if not package:
        return None
    package_dir = _package_dir(package)
    if package_dir is None:
        raise ProjectUploadError(
            f"DaskRunner cannot send the Kedro project package {package!r} to the Dask "
            "workers: it is not a single folder on this machine. Install the project on "
            "the workers (pip install <project folder>) in the same version."
        )
    files = _files(package_dir)
    digest = _digest(package_dir, files)
    marker = upload_marker(package, digest)
    states: dict[str, str] = client.run(probe, package, marker)
    if states and all(state == "ready" for state in states.values()):
        logger.debug("Every Dask worker imports %r already", package)
        return None
    from distributed.diagnostics.plugin import UploadFile

    with tempfile.TemporaryDirectory(prefix="pipelineml-upload-") as folder:
        archive = Path(folder) / marker
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in files:
                zipped.write(path, f"{package}/{path.relative_to(package_dir).as_posix()}")
        # One plugin name per package: a new version of the code replaces the previous
        # upload for the workers that join later, instead of piling up on the scheduler.
        name = f"pipelineml-upload-{package}"
        try:
            client.register_plugin(UploadFile(os.fspath(archive), load=True), name=name)
        except Exception as exc:
            # Workers joining later would fail the same way: forget the plugin.
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(name)
            raise ProjectUploadError(
                f"DaskRunner sent the Kedro project package {package!r} to the Dask workers, "
                f"but importing it there failed: {type(exc).__name__}: {exc}. Install what "
                f"{package!r} imports in the workers' environment, or install the project "
                "itself there (pip install <project folder>)."
            ) from exc
    unready = sum(state != "ready" for state in states.values())
    logger.info(
        "Sent the Kedro project package %r to the Dask workers (%d of %d lacked it or had "
        "older code)",
        package,
        unready,
        len(states),
    )
    return digest
