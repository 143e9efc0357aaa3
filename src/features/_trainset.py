"""Training sets: snapshot features and labels stacked over several months, split out of time.

Why a client appears in several snapshots. One snapshot gives one example per client; the
bank's history holds many months. Stacking the snapshots t1 < t2 < ... gives more examples
(rare events such as defaults need them), covers seasonality (salary months, the Spring
Festival peak) and the business cycle, and shows the model the same client in different
states (before and after a decline), which is exactly what it must learn.

How that is handled:
- The split is out of time, by snapshot month: the earliest snapshots are "train", later ones
  "valid", the latest "test" (counts or dates from `split` in `configs/features.yaml`). No
  client-month of a later split is ever in an earlier one, and model selection is judged on
  months the model has not seen, as it will be used. (Label windows of the last train
  snapshots do reach into the valid months: that is inherent to forecasting and is the same
  information the bank has when it retrains.)
- Rows of one client in train are correlated (neighbouring months share most of their
  history), so the effective sample is smaller than the row count: early stopping and
  calibration use the out-of-time valid split, not random rows of train, and any
  cross-validation inside train must group by `client_id` (or by snapshot month). We do not
  down-weight repeated clients: each row is an honest (state, outcome) pair at its month.
- A snapshot whose longest label horizon runs past the end of the data is excluded (its labels
  are not all known yet); how many and which are logged. Within a kept snapshot every label
  is complete, so the three tasks train on the same snapshots and are comparable.

`task_frame` then selects the rows eligible for one task, its target and features, runs the
leakage screen on the train rows, and hands a `ModelFrame` to the models layer.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from features._catalog import carried_columns, feature_catalog
from features._contract import CLIENT_KEY, PROTECTED_ATTRIBUTES
from features._errors import DataError
from features._feature_config import FeatureConfig
from features._frame import ModelFrame
from features._labels import TASKS, complete_column, label_column, labels_from_dense
from features._leakage import screen_leaks
from features._snapshot import (
    check_month_inside,
    densify,
    features_from_dense,
    month_index,
    month_label,
    prepare_clients,
    prepare_monthly,
)

logger = logging.getLogger(__name__)

Task = Literal["churn", "default", "growth"]


def build_training_table(clients: pd.DataFrame, monthly: pd.DataFrame, months: Sequence[dt.date],
                         config: FeatureConfig, *,
                         progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Features and labels for each snapshot month in `months`, stacked, with a `split` column.

    Snapshots whose label horizons run past the data are excluded (logged). Raises
    `DataError` when a month is outside the data or no snapshot is left.
    """
    data = prepare_monthly(monthly)
    static = prepare_clients(clients)
    wanted = sorted({month_index(m) for m in months})
    if not wanted:
        raise DataError("no snapshot months given")
    for t in wanted:
        check_month_inside(data, t)
    end = data.last_month
    horizon = config.max_horizon
    usable = [t for t in wanted if t + horizon <= end]
    excluded = [t for t in wanted if t + horizon > end]
    if excluded:
        logger.warning("excluded %d snapshot(s) whose %d-month label horizon runs past the data (ends %s): %s",
                       len(excluded), horizon, month_label(end), ", ".join(month_label(t) for t in excluded))
    if not usable:
        raise DataError(f"no snapshot month between {month_label(wanted[0])} and {month_label(wanted[-1])} has its "
                        f"{horizon}-month label horizon inside the data (ends {month_label(end)}); "
                        f"choose months up to {month_label(end - horizon)}")
    dense = densify(data, usable[0] - config.lookback_months + 1, usable[-1] + horizon)
    parts = []
    for t in wanted:
        if t in usable:
            features = features_from_dense(static, dense, t, config)
            labels = labels_from_dense(dense, t, config, data_end=end)
            if not features[CLIENT_KEY].equals(labels[CLIENT_KEY]):  # same alive set, same order
                raise RuntimeError(f"features and labels disagree on the clients alive at {month_label(t)}")
            for column in labels.columns[2:]:
                features[column] = labels[column].to_numpy()
            parts.append(features)
            logger.info("snapshot %s: %d clients", month_label(t), len(features))
        if progress is not None:
            progress(1)
    table = pd.concat(parts, ignore_index=True)
    table.insert(2, "split", pd.array(assign_splits(table["snapshot_month"], config), dtype="str"))
    return table


def assign_splits(snapshot_month: pd.Series, config: FeatureConfig) -> np.ndarray:
    """"train" / "valid" / "test" per row, out of time by snapshot month."""
    months = np.array([month_index(m) for m in snapshot_month.unique()])
    months.sort()
    row_months = snapshot_month.to_numpy().astype("datetime64[M]").astype(np.int64)
    cfg = config.split
    if cfg.valid_from is not None and cfg.test_from is not None:
        valid_from, test_from = month_index(cfg.valid_from), month_index(cfg.test_from)
    else:
        need = cfg.valid_snapshots + cfg.test_snapshots + 1
        if len(months) < need:
            raise DataError(f"the out-of-time split needs at least {need} usable snapshot months "
                            f"({cfg.valid_snapshots} valid, {cfg.test_snapshots} test, 1+ train), got {len(months)}; "
                            f"widen the month range or change split in features.yaml")
        test_from = months[len(months) - cfg.test_snapshots] if cfg.test_snapshots else months[-1] + 1
        valid_from = months[len(months) - cfg.test_snapshots - cfg.valid_snapshots] if cfg.valid_snapshots else test_from
    return np.where(row_months >= test_from, "test", np.where(row_months >= valid_from, "valid", "train"))


def task_frame(table: pd.DataFrame, task: Task, config: FeatureConfig) -> ModelFrame:
    """The rows, target and features of one task, ready for the trainer.

    Eligible rows: the label is known (horizon complete) and defined (default: credit exposure
    at t; growth: retained). Features are the catalogue's (carried columns and protected
    attributes excluded unless configured); string features become `category` with a fixed,
    sorted category list. The leakage screen runs on the train rows and drops its suspects
    unless `leak_screen.keep` lists them.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; one of {TASKS}")
    target = label_column(task, config)
    needed = [CLIENT_KEY, "snapshot_month", "split", target, complete_column(task)]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise DataError(f"training table: missing column(s) {missing}; build it with build_training_table")
    catalog = feature_catalog(config)
    features = [name for name in catalog if name in table.columns]
    absent = [name for name in catalog if name not in table.columns]
    if absent:
        raise DataError(f"training table: missing feature column(s) {absent[:5]}; it was built with another features config")
    if not config.protected.use_as_features:
        features = [f for f in features if f not in (*PROTECTED_ATTRIBUTES, "age_band")]

    eligible = table[complete_column(task)].to_numpy(dtype=bool) & table[target].notna().to_numpy()
    dropped = int((~eligible).sum())
    if dropped:
        logger.info("%s: %d of %d rows not eligible (label undefined or horizon incomplete)", task, dropped, len(table))
    carried = [c for c in carried_columns(config) if c in table.columns]
    data = table.loc[eligible, [CLIENT_KEY, "snapshot_month", "split", *features, target, *carried]].reset_index(drop=True)
    if data.empty:
        raise DataError(f"training table: no row is eligible for the {task} task")
    kind: Literal["binary", "regression"] = "regression" if task == "growth" else "binary"
    if kind == "binary":
        data[target] = data[target].astype(np.int8)
    categorical = [f for f in features if catalog[f].kind == "categorical"]
    for name in categorical:
        categories = sorted(table[name].dropna().astype(str).unique())
        data[name] = pd.Categorical(data[name].astype("str"), categories=categories)

    train = data["split"].to_numpy() == "train"
    screen = config.leak_screen
    rows = np.flatnonzero(train)
    if len(rows) > screen.sample_rows:  # AUCs are estimated well enough on a seeded sample
        rows = np.sort(np.random.default_rng(screen.seed).choice(rows, screen.sample_rows, replace=False))
    sample = data.iloc[rows]
    if len(rows) and sample[target].nunique() >= 2:
        report = screen_leaks(sample[features], sample[target], max_auc=screen.max_auc,
                              name_patterns=screen.name_patterns, keep=screen.keep)
        leaks = set(report.dropped)
    else:
        logger.warning("%s: leakage screen by AUC skipped (the train split has no rows or one label value); "
                       "name patterns still apply", task)
        patterns = [re.compile(p) for p in screen.name_patterns]
        leaks = {f for f in features if f not in screen.keep and any(p.search(f) for p in patterns)}
        for name in sorted(leaks):
            logger.warning("probable leak: column %r matches a leak name pattern: excluded", name)
    if leaks:
        features = [f for f in features if f not in leaks]
        categorical = [c for c in categorical if c in features]
        data = data.drop(columns=sorted(leaks))
    for split in ("train", "valid", "test"):
        if not (data["split"] == split).any():
            logger.warning("%s: the %s split is empty", task, split)
    return ModelFrame(data=data, features=tuple(features), target=target, kind=kind,
                      id_columns=(CLIENT_KEY,), categorical=tuple(categorical), split_column="split",
                      time_column="snapshot_month", name=task)
