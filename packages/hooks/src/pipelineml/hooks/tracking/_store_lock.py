"""One process at a time opens a new SQLite store: MLflow creates and migrates its schema
when a process first opens it, and two processes doing so together leave it broken.

The embedded default store is a SQLite file in the project. Its first opening runs MLflow's
schema creation and its Alembic migrations, which are not safe to run concurrently: eight
``kedro run`` started together on a fresh store each fail with a different migration error
("table _alembic_tmp_runs already exists", "duplicate column name: step") and leave the file
half-migrated for every later run. So each run opens its stores holding an exclusive lock
on ``<file>.lock`` next to the database; once the schema exists, opening is a read, and the
lock costs one ``flock``.

A store that is half-migrated already (by an older pipelineml, or ``mlflow`` commands run
together) is reported with what to do (``schema_advice``).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

_SQLITE = "sqlite:///"


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative paths from the working
    directory, as SQLAlchemy reads them), or ``None`` for any other store."""
    if not uri.startswith(_SQLITE):
        return None
    path = uri[len(_SQLITE) :].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path).absolute()


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+b") as handle:
        if sys.platform == "win32":
            import msvcrt

            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after 10 s: keep waiting
                    time.sleep(0.1)
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def opening_stores(*uris: str) -> Iterator[None]:
    """Hold the lock of every SQLite store among ``uris`` (in one order, so two runs never
    wait on each other) while the block opens them.

    A lock file that cannot be created (a folder that does not exist, a read-only one) is
    skipped: opening the store then fails or succeeds as MLflow decides, and is reported.
    """
    files = sorted({file for uri in uris if (file := sqlite_file(uri)) is not None})
    with contextlib.ExitStack() as held:
        for file in files:
            lock = file.with_name(file.name + ".lock")
            try:
                held.enter_context(_exclusive(lock))
            except OSError:
                continue
        yield


# What SQLite says when a migration step runs again over a half-applied one.
_HALF_MIGRATED = ("_alembic_tmp_", "duplicate column name")


def _leftover_tables(file: Path) -> list[str]:
    """Tables an interrupted Alembic batch migration leaves behind (``_alembic_tmp_*``)."""
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '_alembic_tmp_%'"
            ).fetchall()
    except sqlite3.Error:
        return []
    return sorted(str(name) for (name,) in rows)


def schema_advice(uri: str, exc: BaseException) -> str:
    """What to do about a store whose schema is half-migrated, or ``""`` for other errors
    (an old but whole schema gets MLflow's own advice, ``mlflow db upgrade``)."""
    file = sqlite_file(uri)
    leftovers = _leftover_tables(file) if file is not None and file.exists() else []
    if not leftovers and not any(sign in str(exc) for sign in _HALF_MIGRATED):
        return ""
    found = f" (it holds {', '.join(leftovers)})" if leftovers else ""
    return (
        f" Its schema is half-migrated{found}: an upgrade was interrupted or run by several "
        "processes at once (older pipelineml versions did so on concurrent first runs). "
        f"Back the file up, then run `mlflow db upgrade {uri}`; if that fails too, the "
        "schema cannot be repaired in place: point the project at a new store."
    )
