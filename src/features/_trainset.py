"""Training sets: snapshot features and labels stacked over several months, split out of time
and by client.

Why a client appears in several snapshots. One snapshot gives one example per client; the
bank's history holds many months. Stacking the snapshots t1 < t2 < ... gives more examples
(rare events such as defaults need them), covers seasonality (salary months, the Spring
Festival peak) and the business cycle, and shows the model the same client in different
states (before and after a decline), which is exactly what it must learn.

Why out of time alone leaks. A label looks forward over a horizon (12 months for default), so
the windows of neighbouring snapshots overlap: a client who defaults in month d is a positive
in every snapshot from d - 12 to d - 1, which spans the train, valid and test periods. Split
by snapshot month only, the SAME default event is then a positive in train, in valid and in
test, and the model recognises the client rather than forecasting the event. Measured on the
demo bank (20,000 clients x 36 months): 84% of valid positives and 67% of test positives were
clients already positive in train for the same event, scored 0.40-0.50 on average against
0.05-0.08 for new events; valid AUC 0.952 against test 0.908, and calibration fitted on valid
was dominated by the memorised repeats (6 of 9 PD grades failed the Jeffreys test on test). A
bank retraining at month t never has that information: the labels of later snapshots' windows
are not known yet.

How that is handled:
- Periods, out of time by snapshot month: the earliest snapshots are the train period, later
  ones valid, the latest test (counts or dates from `split` in `configs/features.yaml`).
- Client groups: every client is in exactly one group, train, valid or test (shares
  `split.client_groups`), drawn from a seeded hash of its `client_id` (`split.client_seed`),
  not from a permutation, so adding, removing or reordering other clients never moves it.
- A row is "train" when its client is in the train group and its month in the train period,
  and likewise for valid and test; every other row is "unused": kept in the table so the
  counts are visible, dropped by `task_frame`, never trained, calibrated or evaluated on. No
  client and so no event is then in two splits, and model selection, calibration and the test
  metrics are judged on clients and months the model has not seen, as it will be used.
- What remains shared is the calendar: train clients' label windows still reach into the valid
  and test months, so the model has seen the economy of those months (seasonality, a
  downturn) through other clients' outcomes, which a bank retraining at the start of the test
  period would not have. That is a mild, portfolio-wide effect, not a repeat of any client's
  event; removing it too would need a gap of `max_horizon` months between the periods (not
  done: it costs a year of snapshots).
- Measured on the same demo bank with the default shares (50/25/25, 8 snapshots): default
  valid AUC 0.870 against test 0.849 (was 0.950 / 0.908), 1 of 9 PD grades fails the Jeffreys
  test on test (was 5 of 9).
- `client_groups: null` restores the old split by period only (every row of a period is in
  its split). It is leaky whenever label horizons overlap across periods; use it only to
  reproduce old results or when each client appears in one snapshot.
- Rows of one client in train are correlated (neighbouring months share most of their
  history), so the effective sample is smaller than the row count: early stopping and
  calibration use the valid split, not random rows of train, and any cross-validation inside
  train must group by `client_id`. We do not down-weight repeated clients: each row is an
  honest (state, outcome) pair at its month.
- A snapshot whose longest label horizon runs past the end of the data is excluded (its labels
  are not all known yet); how many and which are logged. Within a kept snapshot every label
  is complete, so the three tasks train on the same snapshots and are comparable.

The small-bank split (`split.method: small`; `auto` takes it when there are too few snapshot
months for the three periods). A bank with 1,500 clients and 3 to 6 usable snapshot months
cannot afford the periods split: every row whose client group and period disagree is
unused, so it trains on a third to a half of its rows (5,691 of 8,975 rows unused on one such
bank) and the valid and test periods hold a handful of events. The small split keeps most rows
and the same guarantee that no event is in two splits:
- Test, out of time: the latest `small.test_snapshots` snapshot months (by default a quarter
  of them, at least 1), rows of the clients in the test group (`small.client_groups`, the same
  seeded hash of `client_id`, by default the same 50/25/25 shares).
- Train and valid, client-grouped within the earlier snapshots: a train-group client's rows
  before the test period are train, a valid-group client's are valid; no client has rows in
  both, so early stopping, candidate choice and calibration are judged on clients the model
  has not seen. The valid rows are from the same months as train (not out of time): with a
  few months there are none to spare, and the out-of-time judgement is the test split's.
- Purge gap: a test-group client's rows at least `purge_months` (default: the longest label
  horizon) before the test period are train too. Their label windows end by the first test
  month, before the test rows' windows begin, so no event of that client is a positive in both
  (a client in default at the first test month is not eligible there when
  `exclude_defaulted_at_t`, the default). Its rows inside the gap are unused, as are train-
  and valid-group rows in the test period.
- Train rows are all strictly earlier than the test rows; a test client's own train rows are
  at least `purge_months` earlier. As with the periods split, what is shared across the gap is
  the calendar (other clients' label windows reach into the test months), not any client's
  event.
- Measured on synthetic banks of about 1,500 clients (default 50/25/25 shares), 21 months,
  windows up to 6 months, horizons 3 (churn) and 6: at 9 snapshots the periods split uses
  39.5% of the rows, the small split 70.0% (default events train / valid / test 30 / 11 / 8
  -> 46 / 40 / 8; churn 187 / 22 / 27 -> 272 / 109 / 27); at 3 snapshots the periods split is
  refused and the small split uses 58.7%. Its test split is the thin one (a quarter of the
  clients in a quarter of the months); `min_events` says when it is too thin to judge a task.
- `auto` takes the small split when there are too few snapshot months for the periods, or when
  the periods split would leave a binary task fewer than `min_events` events in a split.

`task_frame` then selects the rows eligible for one task (in a split, label known and defined),
its target and features, runs the leakage screen on the train rows, and hands a `ModelFrame`
to the models layer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from tierwise.features._catalog import carried_columns, feature_catalog
from tierwise.features._contract import CLIENT_KEY, PROTECTED_ATTRIBUTES
from tierwise.features._errors import DataError
from tierwise.features._events import check_events, event_marks
from tierwise.features._feature_config import ClientGroups, FeatureConfig
from tierwise.features._frame import SPLITS, ModelFrame
from tierwise.features._labels import (
    TASKS,
    Task,
    complete_column,
    is_task,
    label_column,
    labels_from_dense,
)
from tierwise.features._leakage import screen_leaks
from tierwise.features._months import month_index, month_label
from tierwise.features._snapshot import (
    densify,
    features_from_dense,
    months_inside,
    prepare_clients,
    prepare_monthly,
)

logger = logging.getLogger(__name__)

UNUSED = "unused"  # rows in no split: client group and snapshot period disagree (see the module docstring)

def build_training_table(clients: pd.DataFrame, monthly: pd.DataFrame, months: Sequence[dt.date],
                         config: FeatureConfig, *,
                         progress: Callable[[int], None] | None = None,
                         events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Features and labels for each snapshot month in `months`, stacked, with a `split` column.

    Snapshots whose label horizons run past the data are excluded (logged). Raises
    `DataError` when a month is outside the data or no snapshot is left.
    """
    data = prepare_monthly(monthly)
    static = prepare_clients(clients)
    wanted = months_inside(data, months, "snapshot")
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
    marks = None if events is None else event_marks(check_events(events), dense.ids, dense.bool_start, dense.end)
    parts = []
    for t in wanted:
        if t in usable:
            features = features_from_dense(static, dense, t, config)
            labels = labels_from_dense(dense, t, config, data_end=end, events=marks)
            if not features[CLIENT_KEY].equals(labels[CLIENT_KEY]):  # same alive set, same order
                raise RuntimeError(f"features and labels disagree on the clients alive at {month_label(t)}")
            for column in labels.columns[2:]:
                features[column] = labels[column].to_numpy()
            parts.append(features)
            logger.info("snapshot %s: %d clients", month_label(t), len(features))
        if progress is not None:
            progress(1)
    table = pd.concat(parts, ignore_index=True)
    method, why = choose_split(table, config)
    logger.info("split: %s (%s)", method, why)
    split = assign_splits(table[CLIENT_KEY], table["snapshot_month"], config, method)
    table.insert(2, "split", pd.array(split, dtype="str"))
    counts = pd.Series(split).value_counts()
    logger.info("splits: %s (%.0f%% of rows used)", ", ".join(f"{s} {counts.get(s, 0):,}" for s in (*SPLITS, UNUSED)),
                100 * used_share(table["split"]))
    return table


def used_share(split: pd.Series | np.ndarray) -> float:
    """Share of rows in a split (train, valid or test), not "unused"."""
    split = np.asarray(split, dtype=object)
    return float(np.isin(split, SPLITS).mean()) if len(split) else 0.0


def client_groups(client_id: pd.Series | np.ndarray, config: FeatureConfig) -> np.ndarray:
    """"train" / "valid" / "test" per client id, from a seeded hash of the id alone.

    The id (as text) and `split.client_seed` are hashed with BLAKE2b to a number uniform in
    [0, 1), cut at the cumulative `split.client_groups` shares: the group of a client does not
    depend on the other clients, their order or the partitioning. All "train" when
    `client_groups` is null.
    """
    return _hashed_groups(client_id, config.split.client_groups, config.split.client_seed)


def _hashed_groups(client_id: pd.Series | np.ndarray, shares: ClientGroups | None, seed: int) -> np.ndarray:
    """`client_groups` with the given shares (the small split draws with `split.small.client_groups`)."""
    ids = pd.Series(np.asarray(client_id))
    if shares is None:
        return np.full(len(ids), "train", dtype=object)
    codes, uniques = pd.factorize(ids, sort=False)
    salt = f"tierwise-split:{seed}:".encode()
    draws = np.array([int.from_bytes(hashlib.blake2b(salt + str(u).encode(), digest_size=8).digest(), "big")
                      for u in uniques], dtype=np.uint64)
    u01 = (draws >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    group = np.where(u01 < shares.train, "train", np.where(u01 < shares.train + shares.valid, "valid", "test"))
    return group.astype(object)[codes]


def split_method(n_snapshots: int, config: FeatureConfig) -> Literal["periods", "small"]:
    """The split `split.method` asks for, from the number of snapshot months alone: "auto" is
    "periods" when there are enough of them for its periods (`valid_snapshots` +
    `test_snapshots` + 1, or dates given) and "small" otherwise (`choose_split` also counts
    the events)."""
    cfg = config.split
    if cfg.method != "auto":
        return cfg.method
    if cfg.valid_from is not None or n_snapshots >= cfg.valid_snapshots + cfg.test_snapshots + 1:
        return "periods"
    return "small"


def short_of_events(table: pd.DataFrame, split: np.ndarray, config: FeatureConfig) -> str | None:
    """The first binary task and split with fewer events than `split.min_events` (eligible rows
    as `task_frame` takes them), as "default: 8 event(s) in test, fewer than ..."; None when
    every split has enough."""
    for task, least in config.split.min_events.items():
        target = label_column(task, config)
        if least <= 0 or target not in table.columns:
            continue
        eligible = table[complete_column(task)].to_numpy(dtype=bool) & table[target].notna().to_numpy()
        positive = eligible & (table[target].fillna(0).to_numpy(dtype=float) == 1)
        for name in SPLITS:
            events = int((positive & (split == name)).sum())
            if events < least:
                return f"{task}: {events} event(s) in {name}, fewer than split.min_events.{task} {least}"
    return None


def choose_split(table: pd.DataFrame, config: FeatureConfig) -> tuple[Literal["periods", "small"], str]:
    """The split method for a stacked table and why. "auto" takes "small" when there are too
    few snapshot months for the periods split, or when the periods split would leave a binary
    task fewer than `split.min_events` events in one of its splits (a small bank); else, or
    when the periods are given by date, "periods"."""
    months = table["snapshot_month"].nunique()
    method = split_method(months, config)
    if config.split.method != "auto":
        return method, f"split.method {method}"
    if method == "small":
        return method, f"split.method auto: {months} snapshot months are too few for the periods split"
    if config.split.valid_from is not None:
        return method, "split.method auto: the periods are given by date (split.valid_from, split.test_from)"
    short = short_of_events(table, assign_splits(table[CLIENT_KEY], table["snapshot_month"], config, "periods"),
                            config)
    if short is not None:
        return "small", f"split.method auto: the periods split would leave {short}"
    return "periods", f"split.method auto: {months} snapshot months and enough events for the periods split"


def small_test_snapshots(n_snapshots: int, config: FeatureConfig) -> int:
    """Snapshot months in the small split's test period: `split.small.test_snapshots`, or a
    quarter of `n_snapshots` (at least 1)."""
    given = config.split.small.test_snapshots
    return given if given is not None else max(1, n_snapshots // 4)


def purge_months(config: FeatureConfig) -> int:
    """Months a test-group client's train row must lie before the test period (small split)."""
    small = config.split.small
    return small.purge_months if small.purge_months is not None else config.max_horizon


def assign_splits(client_id: pd.Series, snapshot_month: pd.Series, config: FeatureConfig,
                  method: Literal["periods", "small"] | None = None) -> np.ndarray:
    """"train" / "valid" / "test" / "unused" per row, by the periods split (`periods_split`) or
    the small-bank split (`small_split`): `method`, or by default the one `split_method` picks
    from the number of snapshot months."""
    months = np.sort(np.array([month_index(m) for m in snapshot_month.unique()]))
    row_months = snapshot_month.to_numpy().astype("datetime64[M]").astype(np.int64)
    if method is None:
        method = split_method(len(months), config)
    if method == "small":
        return small_split(client_id, row_months, months, config)
    return periods_split(client_id, row_months, months, config)


def periods_split(client_id: pd.Series, row_months: np.ndarray, months: np.ndarray,
                  config: FeatureConfig) -> np.ndarray:
    """Out of time by snapshot month and, unless `split.client_groups` is null, disjoint by
    client (a row is in a split only when its client's group and its month's period agree; the
    rest is "unused")."""
    cfg = config.split
    if cfg.valid_from is not None and cfg.test_from is not None:
        valid_from, test_from = month_index(cfg.valid_from), month_index(cfg.test_from)
    else:
        need = cfg.valid_snapshots + cfg.test_snapshots + 1
        if len(months) < need:
            raise DataError(f"the out-of-time split needs at least {need} usable snapshot months "
                            f"({cfg.valid_snapshots} valid, {cfg.test_snapshots} test, 1+ train), got {len(months)}; "
                            f"widen the month range, or set split.method to small or auto in features.yaml")
        test_from = months[len(months) - cfg.test_snapshots] if cfg.test_snapshots else months[-1] + 1
        valid_from = months[len(months) - cfg.test_snapshots - cfg.valid_snapshots] if cfg.valid_snapshots else test_from
    period = np.where(row_months >= test_from, "test", np.where(row_months >= valid_from, "valid", "train"))
    if cfg.client_groups is None:
        return period
    group = client_groups(client_id, config)
    return np.where(group == period, period, UNUSED)


def small_split(client_id: pd.Series, row_months: np.ndarray, months: np.ndarray,
                config: FeatureConfig) -> np.ndarray:
    """The small-bank split (`split.small`; see the module docstring).

    Test: the test-group clients' rows in the latest `small_test_snapshots` months. Before
    those months, train- and valid-group clients' rows are train and valid, and test-group
    clients' rows are train when at least `purge_months` months before the test period. The
    rest is "unused": train- and valid-group rows in the test period, test-group rows inside
    the purge gap."""
    small = config.split.small
    n_test = small_test_snapshots(len(months), config)
    if len(months) < n_test + 1:
        raise DataError(f"the small-bank split needs at least {n_test + 1} usable snapshot months "
                        f"({n_test} test, 1+ train and valid), got {len(months)}; "
                        f"widen the month range (--snapshots) or lower split.small.test_snapshots in features.yaml")
    test_from = months[len(months) - n_test]
    group = _hashed_groups(client_id, small.client_groups, config.split.client_seed)
    before = row_months < test_from
    purged = row_months <= test_from - purge_months(config)
    out = np.full(len(row_months), UNUSED, dtype=object)
    out[before & (group == "train")] = "train"
    out[before & (group == "valid")] = "valid"
    out[~before & (group == "test")] = "test"
    out[purged & (group == "test")] = "train"
    return out


def task_frame(table: pd.DataFrame, task: Task, config: FeatureConfig) -> ModelFrame:
    """The rows, target and features of one task, ready for the trainer.

    Eligible rows: in a split ("unused" rows are dropped), the label is known (horizon
    complete) and defined (default: credit exposure at t; growth: retained). Features are the
    catalogue's (carried columns and protected attributes excluded unless configured); string
    features become `category` with a fixed, sorted category list. The leakage screen runs on the train rows and drops its suspects
    unless `leak_screen.keep` lists them.
    """
    if not is_task(task):
        raise ValueError(f"unknown task {task!r}; one of {TASKS} or adopt_<product>")
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

    in_split = table["split"].isin(SPLITS).to_numpy()
    unused = int((~in_split).sum())
    if unused:
        logger.info("%s: %d of %d rows unused (in no split: client group and snapshot period disagree, or in "
                    "the purge gap): dropped",
                    task, unused, len(table))
    eligible = in_split & table[complete_column(task)].to_numpy(dtype=bool) & table[target].notna().to_numpy()
    dropped = int((~eligible).sum()) - unused
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
                      time_column="snapshot_month", name=task,
                      min_events=config.split.min_events.get(task, 0) if kind == "binary" else 0,
                      screened_out=tuple(sorted(leaks)))
