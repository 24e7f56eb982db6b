"""Where a Kedro project's configuration lives, to name the file a user should edit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# types-PyYAML may or may not be installed; either way this import is fine.
import yaml  # type: ignore[import-untyped, unused-ignore]

if TYPE_CHECKING:
    from kedro.config import AbstractConfigLoader


@dataclass(frozen=True)
class ConfFiles:
    """Where the project's configuration lives, to name the file a user should edit.

    Attributes:
        project_path: The project root.
        conf_source: The configuration folder (``conf``).
        base_env: The base environment (``base``).
        env: The environment of the run (``local`` by default).
    """

    project_path: Path
    conf_source: Path
    base_env: str = "base"
    env: str = "local"

    @classmethod
    def of(cls, project_path: Path, loader: AbstractConfigLoader, env: str | None) -> ConfFiles:
        """From a Kedro config loader (OmegaConfigLoader attributes, with defaults)."""
        conf_source = Path(str(getattr(loader, "conf_source", project_path / "conf")))
        if not conf_source.is_absolute():
            conf_source = project_path / conf_source
        base_env = str(getattr(loader, "base_env", None) or "base")
        run_env = env or getattr(loader, "env", None) or getattr(loader, "default_run_env", None)
        return cls(project_path, conf_source, base_env, str(run_env or "local"))

    def relative(self, path: Path) -> str:
        """``path`` relative to the project when it is inside it."""
        with contextlib.suppress(ValueError):
            return path.relative_to(self.project_path).as_posix()
        return path.as_posix()

    def default(self, kind: str) -> str:
        """``conf/base/<kind>.yml``: where Kedro's template declares entries."""
        return self.relative(self.conf_source / self.base_env / f"{kind}.yml")

    def _files(self, kind: str) -> Iterator[Path]:
        # Kedro's default patterns: "<kind>*", "<kind>*/**", "**/<kind>*". The run's
        # environment overrides base, so it is looked at first.
        for env in dict.fromkeys([self.env, self.base_env]):
            folder = self.conf_source / env
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                parts = path.relative_to(folder).parts
                if path.suffix in {".yml", ".yaml"} and any(p.startswith(kind) for p in parts):
                    yield path

    def declaring(self, kind: str, key: str) -> str:
        """The file declaring top-level ``key`` in ``kind`` (catalog, parameters), or the
        default file when none does."""
        for path in self._files(kind):
            try:
                content = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                continue
            if isinstance(content, dict) and key in content:
                return self.relative(path)
        return self.default(kind)


def read_mlflow_yml(loader: AbstractConfigLoader) -> dict[str, Any]:
    """The content of the project's ``mlflow.yml`` (empty when there is none).

    Kedro's default loader knows no ``mlflow`` patterns: they are added, the way Kedro
    spells its own (``catalog*``, ``catalog*/**``, ``**/catalog*``).
    """
    from kedro.config import MissingConfigException

    patterns = getattr(loader, "config_patterns", None)
    if patterns is not None and "mlflow" not in patterns:
        patterns["mlflow"] = ["mlflow*", "mlflow*/**", "**/mlflow*"]
    try:
        raw: dict[str, Any] = loader["mlflow"]
    except (MissingConfigException, KeyError):
        raw = {}
    return raw
