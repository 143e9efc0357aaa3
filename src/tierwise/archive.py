"""The client archive: the bank's memory, one month-partitioned Parquet dataset.

Layout (hive partitioning, which pandas, pyarrow, DuckDB and Spark read as it is):

    outputs/archive/
      month=2025-10-01/part-0.parquet
      month=2025-11-01/part-0.parquet

Each partition holds one row per client scored that month, sorted by `client_id`, with the
columns of `ARCHIVE_COLUMNS` (the recommendations table without `month`, which is the
partition key, plus the tier memory the policy read, the exit-review state and the run's model
version and input fingerprint), in the fixed Arrow types of `archive_schema()`: both scoring
engines write the same bytes for the same month. A month scored by a recommender with product
models also holds its offers (`models.offer_columns`, after the run columns); a month without
them has none of those columns, and reads as it always did.

Writing a month replaces its one file atomically (`os.replace` of a hidden temporary file in
the partition folder, which no reader lists); other months are never touched. Rerunning a
month writes an identical file.

Readers:
- pandas: `pd.read_parquet("outputs/archive")` (month as a category of 'YYYY-MM-DD' texts),
  or `read_archive` here (month as datetime64, columns and months chosen);
- DuckDB: `SELECT * FROM read_parquet('outputs/archive/*/*.parquet', hive_partitioning = true)`;
- Spark: `spark.read.parquet("outputs/archive")`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tierwise.features import (
    CLIENT_KEY,
    GROUP_KEY,
    MONTH_KEY,
    DataError,
    add_months,
    atomic_path,
    month_label,
    output_lock,
)
from tierwise.models import (
    PRIOR_COLUMNS,
    RECOMMENDATION_COLUMNS,
    REVIEW_COLUMNS,
    is_number_column,
    offer_columns,
)

logger = logging.getLogger(__name__)

DEFAULT_ARCHIVE = Path("outputs/archive")
PART_FILE = "part-0.parquet"
PARTITION_OPTIONS = {"compression": "zstd", "write_statistics": True}
"""How a partition file is written (`write_month`, and scoring's streamed writer)."""
_PARTITION = re.compile(r"^month=(\d{4})-(\d{2})-01$")

MEMORY_COLUMNS: tuple[str, ...] = ("tier_prev", "p_default_prev")
"""What the policy read from the archive: the client's tier of the last archived month and the
lowest PD of the trend window (null: no history)."""
RUN_COLUMNS: tuple[str, ...] = ("model_version", "input_fingerprint")
GROUP_COLUMNS: tuple[str, ...] = (GROUP_KEY,)
"""The client's connected group that month (`tierwise.features.groups_of_month`: the smallest
member id; a client with no link is its own group), null when the bank has no `relations`
table. Added after the first archives: a partition written before it reads as null."""

ARCHIVE_COLUMNS: tuple[str, ...] = (
    *[c for c in RECOMMENDATION_COLUMNS if c != MONTH_KEY],
    *MEMORY_COLUMNS,
    *REVIEW_COLUMNS,
    *RUN_COLUMNS,
    *GROUP_COLUMNS,
)
"""One archived client-month, in order (the month is the partition key)."""

SCORED_COLUMNS: tuple[str, ...] = (CLIENT_KEY, MONTH_KEY, *ARCHIVE_COLUMNS[1:])
"""A scored month as one table (`tierwise score --out`, `read_archive`): the archive's columns
with the month; its first columns are the recommendations table's, in that order."""

_INTEGER = frozenset({"exit_review_months"})
_DATE = frozenset({"exit_review_since"})
_FLOAT = frozenset({
    "p_churn", "p_default", "growth", "expected_value_12m", "value_if_retained_12m",
    "expected_credit_loss_12m", "assets_total", "credit_exposure", "contribution_monthly",
    "cost_to_serve_monthly", "p_default_prev",
})


MAX_OFFERS = 8  # offers per client at most (one per product family)
OFFER_COLUMNS: frozenset[str] = frozenset(offer_columns(MAX_OFFERS))


def offers_in(columns: Iterable[str]) -> int:
    """How many offers a table with `columns` holds (`offer_<i>` present for i = 1..n)."""
    names = set(columns)
    return next((i - 1 for i in range(1, MAX_OFFERS + 2) if f"offer_{i}" not in names), MAX_OFFERS)


def _arrow_type(column: str) -> pa.DataType:
    if column in OFFER_COLUMNS:
        return pa.float64() if is_number_column(column) else pa.string()
    if column.startswith("flag_"):
        return pa.bool_()
    if column in _FLOAT or column.endswith("_shap"):
        return pa.float64()
    if column in _INTEGER:
        return pa.int32()
    if column in _DATE:
        return pa.date32()
    return pa.string()


def archive_schema(offers: int = 0) -> pa.Schema:
    """The Arrow schema of a partition file (no pandas metadata: both engines, same bytes),
    with `offers` offers per client (0: a recommender without product models)."""
    return pa.schema([pa.field(c, _arrow_type(c)) for c in (*ARCHIVE_COLUMNS, *offer_columns(offers))])


def partition_dir(archive: Path, month: dt.date) -> Path:
    return Path(archive) / f"month={month:%Y-%m}-01"


def archived_months(archive: Path) -> list[dt.date]:
    """Months with a partition file, oldest first (a missing folder: none)."""
    archive = Path(archive)
    if not archive.is_dir():
        return []
    months = []
    for child in archive.iterdir():
        found = _PARTITION.match(child.name)
        if found and (child / PART_FILE).is_file():
            months.append(dt.date(int(found[1]), int(found[2]), 1))
    return sorted(months)


def check_archive(archive: Path) -> None:
    """`DataError` unless `archive` is a folder holding at least one month."""
    archive = Path(archive)
    if archive.exists() and not archive.is_dir():
        raise DataError(f"--archive: {archive} is a file, not an archive folder")
    if not archived_months(archive):
        raise DataError(f"{archive}: no archived month (run `tierwise score` or `tierwise run-month` first)")


def to_partition(recs: pd.DataFrame) -> pa.Table:
    """A month's rows as the partition table: `ARCHIVE_COLUMNS` in their types, by client_id.
    Columns the frame lacks (e.g. the memory columns of a first month) are null."""
    recs = recs.sort_values(CLIENT_KEY, kind="stable", ignore_index=True)
    schema = archive_schema(offers_in(recs.columns))
    arrays = []
    for field in schema:
        if field.name not in recs.columns:
            arrays.append(pa.nulls(len(recs), field.type))
            continue
        values = recs[field.name]
        if field.type == pa.date32():
            stamps = pd.to_datetime(values).astype("datetime64[ns]")
            arrays.append(pa.array(stamps, from_pandas=True).cast(pa.date32()))
        elif field.type == pa.string() and _is_str(values):  # Arrow-backed text: no Python objects
            arrays.append(pa.array(values.array).cast(pa.string()))
        elif field.type == pa.string():
            arrays.append(pa.array(values.astype("str").mask(values.isna()).to_numpy(dtype=object, na_value=None),
                                   pa.string()))
        else:
            arrays.append(pa.array(values.to_numpy(), from_pandas=True).cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _is_str(values: pd.Series) -> bool:
    """Whether a column is pandas' `str` dtype stored in Arrow (missing values are nulls)."""
    return isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"


def month_lock(archive: Path, month: dt.date):  # noqa: ANN201 - a context manager yielding the lock file
    """The lock of one archive month, held by whatever writes it (scoring, run-month):
    `.<archive>-YYYY-MM.lock` beside the archive folder, so readers of the archive never see it.
    A second run on the same month refuses in one line naming the holder (`output_lock`)."""
    archive = Path(archive)
    return output_lock(archive.parent / f"{archive.name}-{month_label(month)}",
                       what=f"archive {archive} month {month_label(month)}")


def write_month(archive: Path, month: dt.date, recs: pd.DataFrame) -> Path:
    """Replace `month`'s partition with `recs` (atomically); returns the partition file."""
    table = to_partition(recs)
    if CLIENT_KEY in recs.columns and recs[CLIENT_KEY].duplicated().any():
        raise DataError(f"archive {month_label(month)}: client_id is not unique")
    path = partition_dir(archive, month) / PART_FILE
    with atomic_path(path, suffix=".tmp", durable=True) as tmp:
        pq.write_table(table, tmp, **PARTITION_OPTIONS)
    logger.info("archived %d client(s) for %s in %s", table.num_rows, month_label(month), path)
    return path


SNAPSHOT_FILE = "features.parquet"


def snapshot_dir(archive: Path) -> Path:
    """Where the monthly job keeps each month's snapshot features, beside the archive (not in
    it: readers of the archive folder see only its partitions): `<archive>-snapshot/`."""
    archive = Path(archive)
    return archive.with_name(f"{archive.name}-snapshot")


def write_snapshot(archive: Path, month: dt.date, features: pd.DataFrame) -> Path:
    """Replace `month`'s snapshot features (one row per client, the served request's fields)
    atomically; returns the file."""
    path = partition_dir(snapshot_dir(archive), month) / SNAPSHOT_FILE
    with atomic_path(path, suffix=".tmp", durable=True) as tmp:
        pq.write_table(pa.Table.from_pandas(features, preserve_index=False), tmp, compression="zstd")
    return path


def latest_snapshot(archive: Path) -> Path | None:
    """The snapshot features file of the latest month that has one (None: no snapshot)."""
    folder = snapshot_dir(archive)
    if not folder.is_dir():
        return None
    found = sorted(child for child in folder.iterdir()
                   if _PARTITION.match(child.name) and (child / SNAPSHOT_FILE).is_file())
    return found[-1] / SNAPSHOT_FILE if found else None


def read_archive(archive: Path, *, months: Iterable[dt.date] | None = None,
                 columns: Sequence[str] | None = None, clients: Iterable[str] | None = None) -> pd.DataFrame:
    """Archived rows with a `month` column (datetime64, first of the month), by month then client.

    `months`: only these (default: all archived); `columns`: only these (plus client_id and
    month); `clients`: only these client ids. A month asked for and not archived is a
    `DataError` naming the archived ones."""
    archive = Path(archive)
    present = archived_months(archive)
    wanted = present if months is None else sorted({m.replace(day=1) for m in months})
    missing = [m for m in wanted if m not in present]
    if missing:
        shown = ", ".join(month_label(m) for m in present[-6:]) or "none"
        raise DataError(f"{archive}: month {month_label(missing[0])} is not archived; archived months: {shown}")
    names = None if columns is None else list(dict.fromkeys([CLIENT_KEY, *[c for c in columns if c != MONTH_KEY]]))
    unknown = [] if names is None else [c for c in names if c not in ARCHIVE_COLUMNS and c not in OFFER_COLUMNS]
    if unknown:
        raise DataError(f"{archive}: no archive column '{unknown[0]}'")
    ids = None if clients is None else pa.array(sorted({str(c) for c in clients}), pa.string())
    frames = []
    for month in wanted:
        path = partition_dir(archive, month) / PART_FILE
        try:
            held = offers_in(pq.read_schema(path).names)
            asked = max((int(c.split("_")[1]) for c in names or () if c in OFFER_COLUMNS), default=0)
            table = pq.read_table(path, columns=names, schema=archive_schema(max(held, asked)))
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{path}: cannot be read as an archive partition ({str(exc).splitlines()[0]})") from None
        if ids is not None:
            table = table.filter(pa.compute.is_in(table.column(CLIENT_KEY), value_set=ids))
        frame = table.to_pandas()
        frame.insert(1, MONTH_KEY, np.full(len(frame), np.datetime64(month, "ns")))
        frames.append(frame)
    if not frames:
        empty = archive_schema().empty_table().to_pandas()
        empty.insert(1, MONTH_KEY, pd.Series([], dtype="datetime64[ns]"))
        return empty if names is None else empty.loc[:, [CLIENT_KEY, MONTH_KEY, *names[1:]]]
    out = pd.concat(frames, ignore_index=True)
    for column in _DATE & set(out.columns):
        out[column] = pd.to_datetime(out[column]).astype("datetime64[ns]")
    return out


def memory_months(archive: Path | None, month: dt.date, *, trend_months: int) -> list[dt.date]:
    """The archived months `prior_state` reads for `month`: those of the `trend_months` before it."""
    if archive is None:
        return []
    month = month.replace(day=1)
    first = add_months(month, -trend_months)
    return [m for m in archived_months(archive) if first <= m < month]


def prior_state(archive: Path | None, month: dt.date, *, trend_months: int) -> pd.DataFrame:
    """What scoring `month` remembers, per client with an archived month in the window of the
    `trend_months` months before it: `tier_prev`, the review state of that last archived month,
    and `p_default_prev`, the lowest PD over the window (columns: `models.PRIOR_COLUMNS`).

    Only months before `month` are read, so rerunning a month (or backfilling an earlier one)
    reads the same memory. No archive, or nothing in the window: an empty frame."""

    month = month.replace(day=1)
    window = memory_months(archive, month, trend_months=trend_months)
    columns = ["tier", "p_default", "exit_review_status", "exit_review_since", "exit_review_months"]
    history = read_archive(archive, months=window, columns=columns) if window else None
    if history is None or len(history) == 0:
        return pd.DataFrame({c: pd.Series([], dtype="float64" if c in ("p_default_prev", "exit_review_months")
                                          else "datetime64[ns]" if c == "exit_review_since" else "str")
                             for c in PRIOR_COLUMNS})
    if window[-1] != add_months(month, -1):
        logger.warning("the archive has no %s: tier memory for %s comes from %s", month_label(add_months(month, -1)),
                       month_label(month), month_label(window[-1]))
    history = history.sort_values([CLIENT_KEY, MONTH_KEY], kind="stable")
    last = history.groupby(CLIENT_KEY, sort=True).tail(1).set_index(CLIENT_KEY)
    lowest = history.groupby(CLIENT_KEY, sort=True)["p_default"].min()
    out = pd.DataFrame({
        CLIENT_KEY: last.index.astype("str"),
        "tier_prev": last["tier"].to_numpy(),
        "p_default_prev": lowest.reindex(last.index).to_numpy(dtype=float),
        "exit_review_status": last["exit_review_status"].to_numpy(),
        "exit_review_since": last["exit_review_since"].to_numpy(dtype="datetime64[ns]"),
        "exit_review_months": last["exit_review_months"].to_numpy(dtype=float),
    })
    return out.reset_index(drop=True)


def archive_rows(recs: pd.DataFrame, prior: pd.DataFrame, *, model_version: str, fingerprint: str,
                 groups: pd.Series | None = None) -> pd.DataFrame:
    """This month's recommendations (with their review columns) and the memory the policy read
    (`tier_prev`, `p_default_prev`), the run's model version and input fingerprint, and each
    client's `group_id` from `groups` (group id by client id; a client not in it is its own
    group; None: the bank has no relations and the column is null)."""
    memory = prior.loc[:, [CLIENT_KEY, *MEMORY_COLUMNS]].set_index(CLIENT_KEY)
    memory = memory.reindex(pd.Index(recs[CLIENT_KEY].astype("str").to_numpy(), name=CLIENT_KEY))
    out = recs.copy()
    out["tier_prev"] = memory["tier_prev"].to_numpy()
    out["p_default_prev"] = memory["p_default_prev"].to_numpy(dtype=float)
    out["model_version"] = str(model_version)
    out["input_fingerprint"] = fingerprint
    ids = out[CLIENT_KEY].astype("str")
    if groups is None:
        out[GROUP_KEY] = pd.Series(pd.NA, index=out.index, dtype="str")
    else:
        group = groups.reindex(ids.to_numpy()).to_numpy(dtype=object)
        out[GROUP_KEY] = pd.Series(np.where(pd.isna(group), ids.to_numpy(dtype=object), group),
                                   index=out.index, dtype="str")
    return out

