"""The hand-over from features to models: a model-ready frame and what its columns mean."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class ModelFrame:
    """One row per example, ready for a model.

    - `data` holds the id columns, the feature columns, the target and (optionally) the
      split column and any carried columns (protected attributes for fairness checks,
      the snapshot month) that are not model inputs.
    - `features` are the model inputs, in order; `categorical` is the subset with
      `category` dtype (LightGBM takes them natively).
    - `kind` is "binary" (target 0/1) or "regression".
    - `split_column`, when set, holds "train" / "valid" / "test" (out of time and
      client-disjoint for snapshot data; `task_frame` drops the "unused" rows); when None the
      trainer cross-validates (flat tables).
    - `min_events`: the fewest events (label 1) each split must hold before a binary task is
      trained (`split.min_events` of the features config; 0: no check beyond two classes).
    """

    data: pd.DataFrame
    features: tuple[str, ...]
    target: str
    kind: Literal["binary", "regression"]
    id_columns: tuple[str, ...] = ("client_id",)
    categorical: tuple[str, ...] = ()
    split_column: str | None = "split"
    time_column: str | None = None
    name: str = ""
    min_events: int = 0
    screened_out: tuple[str, ...] = ()
    """Features the leakage screen dropped from this frame: a task config naming one (in
    `features`, `exclude`, `monotone`) is not wrong, the data made it a suspect."""

    def part(self, split: str) -> pd.DataFrame:
        if self.split_column is None:
            raise ValueError(f"{self.name or 'frame'} has no split column")
        return self.data[self.data[self.split_column] == split]

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 - scikit-learn's name
        return self.data.loc[:, list(self.features)]

    @property
    def y(self) -> pd.Series:
        return self.data[self.target]
