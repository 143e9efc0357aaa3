"""Reading the recommendations table and raw tables; atomic writes of report files."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from tierwise.archive import read_archive
from tierwise.features import (
    ROW_ID,
    DataError,
    first_names,
    missing_columns,
    month_label,
    read_raw_tables,
    reference_rules,
    validate_tables,
)
from tierwise.models import FLAG_COLUMNS, TIERS

logger = logging.getLogger(__name__)


#: flags added after the contract: a recommendations table without one reads as "not flagged"
LATER_FLAGS: tuple[str, ...] = ("flag_in_default",)

#: the columns every report needs from the recommendations table (see the contract in issue 6)
CORE_COLUMNS: tuple[str, ...] = (
    "client_id", "month", "segment", "region", "industry", "branch", "rm_id",
    "p_churn", "p_default", "growth", "expected_value_12m", "assets_total", "credit_exposure",
    "contribution_monthly", "cost_to_serve_monthly", "tier", "channel",
    *[f for f in FLAG_COLUMNS if f not in LATER_FLAGS],
)

#: what the monitor's history needs of the months other than --month and the baseline
MONITOR_HISTORY_COLUMNS: tuple[str, ...] = (
    "tier", "assets_total", "credit_exposure", "p_churn", "p_default",
    "exit_review_status", "exit_review_since", "exit_review_months",
)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, source: str) -> None:
    """One-line `DataError` naming the file and the first missing columns."""
    missing = missing_columns(frame.columns, columns)
    if missing:
        raise DataError(f"{source}: missing column(s) {first_names(missing)}")


def read_recommendations(path: Path) -> pd.DataFrame:
    """The recommendations Parquet, checked against the contract's core columns."""
    if not path.is_file():
        raise DataError(f"{path}: recommendations file not found (run `tierwise score` first)")
    try:
        recs = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a user-facing data problem
        raise DataError(f"{path}: cannot read as Parquet ({type(exc).__name__}: {exc})") from None
    return check_recommendations(recs, source=str(path))


def check_recommendations(recs: pd.DataFrame, *, source: str) -> pd.DataFrame:
    require_columns(recs, CORE_COLUMNS, source=source)
    if recs.empty:
        raise DataError(f"{source}: the recommendations table has no rows")
    out = recs.copy()
    out["client_id"] = out["client_id"].astype("str")
    for flag in LATER_FLAGS:
        if flag not in out.columns:
            out[flag] = False
    try:
        out["month"] = pd.to_datetime(out["month"]).dt.to_period("M").dt.to_timestamp()
    except (ValueError, TypeError) as exc:
        raise DataError(f"{source}: column 'month' is not a date ({exc})") from None
    for flag in FLAG_COLUMNS:
        missing = out[flag].isna()
        if missing.any():
            logger.warning("%s: %d missing value(s) in %s read as 'not flagged'", source, int(missing.sum()), flag)
        out[flag] = out[flag].astype("boolean").fillna(False).astype(bool)
    bad_tier = ~out["tier"].isin(TIERS)
    if bad_tier.any():
        row = int(bad_tier.to_numpy().nonzero()[0][0])
        raise DataError(
            f"{source}: column 'tier' row {row} is {out['tier'].iloc[row]!r}; "
            f"expected one of {', '.join(TIERS)}"
        )
    for column in ("p_churn", "p_default"):
        values = pd.to_numeric(out[column], errors="coerce")
        outside = values.notna() & ~values.between(0.0, 1.0)
        if outside.any():
            row = int(outside.to_numpy().nonzero()[0][0])
            raise DataError(
                f"{source}: column '{column}' row {row} is {values.iloc[row]}; expected a probability in [0, 1]"
            )
    return out


def read_archive_months(archive: Path, full: Sequence[dt.date], followed: Sequence[dt.date], *,
                        columns: Sequence[str] = MONITOR_HISTORY_COLUMNS,
                        clients: Iterable[str] | None = None) -> pd.DataFrame:
    """The one reader of archived months for the reports: the months shown or compared (`full`:
    every column) and those only followed over time (`followed`: `columns`; with `clients`,
    those clients only), as one recommendations table checked like a file. Flags not among
    `columns` are False for the followed months (they are not shown for them)."""
    full = sorted(set(full))
    followed = sorted(set(followed) - set(full))
    frames = [read_archive(archive, months=full)]
    clients = None if clients is None else list(clients)
    if followed and (clients is None or clients):
        part = read_archive(archive, months=followed, columns=list(columns), clients=clients)
        frames.append(part.assign(**{flag: False for flag in FLAG_COLUMNS if flag not in columns}))
    recs = pd.concat(frames, ignore_index=True).sort_values(["month", "client_id"], kind="stable", ignore_index=True)
    logger.info("read %d archived month(s) from %s (%d client-months)", len(full) + len(followed), archive, len(recs))
    return check_recommendations(recs, source=str(archive))


def read_raw_table(data_dir: Path | None, name: str) -> pd.DataFrame | None:
    """`clients` or `monthly` from a data folder (Parquet, else CSV); None when absent."""
    if data_dir is None:
        return None
    for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        path = data_dir / f"{name}{suffix}"
        if path.is_file():
            table = reader(path)
            if "client_id" not in table.columns:
                raise DataError(f"{path}: missing column client_id")
            table["client_id"] = table["client_id"].astype("str")
            if "month" in table.columns:
                table["month"] = pd.to_datetime(table["month"]).dt.to_period("M").dt.to_timestamp()
            return table
    return None


def _has_table(data_dir: Path, name: str) -> bool:
    return any((data_dir / f"{name}{suffix}").is_file() for suffix in (".parquet", ".csv"))


def read_bank(data_dir: Path | None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(`clients`, `monthly`) of a data folder as the reports use them: when both are there,
    the rows that pass the data contract (`validate_tables`, as scoring quarantines them), so a
    bad value in the extract is left out of balance trends and realised labels instead of
    stopping the report; either is None when absent."""
    if data_dir is None or not all(_has_table(data_dir, name) for name in ("clients", "monthly")):
        return read_raw_table(data_dir, "clients"), read_raw_table(data_dir, "monthly")
    report = validate_tables(*read_raw_tables(data_dir), rules=reference_rules(data_dir))  # as read, like scoring
    rejected = report.rows_rejected
    if rejected["clients"] or rejected["monthly"]:
        logger.info("%s: %d client row(s) and %d monthly row(s) fail the data contract and are left out of "
                    "the reports (tierwise validate lists them)", data_dir, rejected["clients"], rejected["monthly"])
    kept = []
    for table in (report.clients, report.monthly):
        table = table.drop(columns=ROW_ID)
        table["client_id"] = table["client_id"].astype("str")
        if "month" in table.columns:
            table["month"] = pd.to_datetime(table["month"]).dt.to_period("M").dt.to_timestamp()
        kept.append(table)
    return kept[0], kept[1]


def available_months(recs: pd.DataFrame) -> list[str]:
    return [month_label(m) for m in sorted(recs["month"].dropna().unique())]


def check_scored_month(recs: pd.DataFrame, month: pd.Timestamp, *, what: str = "month") -> None:
    """Raise `DataError` unless `recs` holds rows of `month`; the message lists the last six
    scored months."""
    if not (recs["month"] == pd.Timestamp(month)).any():
        shown = ", ".join(available_months(recs)[-6:])
        raise DataError(f"{what} {month_label(month)} is not in the recommendations; scored months: {shown}")
