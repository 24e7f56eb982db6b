"""A model for the lost-scheduler test of batch_predict; importable by worker processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd


class SlowOnFlag:
    """Scores ``x * 2``; a partition holding a row with ``slow`` set writes ``marker`` and
    sleeps (the scheduler is killed meanwhile)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def predict(self, frame: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        if frame["slow"].any():
            Path(self.marker).write_text("started")
            time.sleep(60)
        return pd.DataFrame({"score": frame["x"] * 2.0}, index=frame.index)
