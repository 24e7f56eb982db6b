"""SHA-256 fingerprints of artifacts: a file, or every file of a folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(path: str | Path) -> dict[str, str]:
    """``{relative path: sha256}`` of a file (key ``""``) or of every file in a folder."""
    root = Path(path)
    if root.is_file():
        return {"": _file_digest(root)}
    # Python writes byte-code caches next to code it imports: never part of what was logged.
    return {
        file.relative_to(root).as_posix(): _file_digest(file)
        for file in sorted(root.rglob("*"))
        if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc"
    }


def differences(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """Human-readable differences between two fingerprints (empty when they match)."""
    problems = []
    for name in sorted(expected.keys() | actual.keys()):
        label = name or "the file"
        if name not in actual:
            problems.append(f"{label} is missing")
        elif name not in expected:
            problems.append(f"{label} was added")
        elif expected[name] != actual[name]:
            problems.append(
                f"{label} changed (sha256 {actual[name][:12]}..., expected {expected[name][:12]}...)"
            )
    return problems
