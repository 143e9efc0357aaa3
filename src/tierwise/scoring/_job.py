"""What both scoring engines share: the preparation step (validate, quarantine with reasons, cut
for the month), the month and "nothing to score" checks, the rejects beside the output, the
batch step (relationship-manager capacity), the atomic final write and the MLflow run."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tierwise import archive as client_archive
from tierwise import tracking
from tierwise.features import (
    CLIENT_KEY,
    MONTH_KEY,
    ROW_ID,
    ContractRules,
    DataError,
    atomic_path,
    output_lock,
    relations_path,
    table_path,
    text_isin,
    validate_tables,
    write_arrow_atomic,
)
from tierwise.models import (
    Recommender,
    advance_reviews,
    apply_contagion,
    apply_rm_capacity,
    gate_offers,
    summarise_tiers,
)

logger = logging.getLogger(__name__)

EXPERIMENT = "tierwise-scoring"
REJECT_COLUMNS = ("table", ROW_ID, CLIENT_KEY, MONTH_KEY, "reason")


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring job did: where it wrote, how many clients, chunks and rejects, its run."""

    out: Path | None
    archived: Path | None
    clients: int
    chunks: int
    resumed_chunks: int
    tiers: dict[str, int]
    rejected: dict[str, int]
    run_id: str
    seconds: float


@dataclass(frozen=True)
class RunInputs:
    """What the scoring run log records about its inputs."""

    month: dt.date
    fingerprint: str
    rows_in: dict[str, int]
    rows_rejected: dict[str, int]


@dataclass(frozen=True)
class MonthInputs:
    """Validated rows of some clients, cut for one snapshot month."""

    clients: pd.DataFrame  # clients with a row at the month, sorted by client_id
    monthly: pd.DataFrame  # their rows up to the month, sorted by client_id, month
    rejects: pd.DataFrame  # quarantined rows of both tables with their reasons (REJECT_COLUMNS)


def rejects_path(out: Path) -> Path:
    return out.with_name(out.name + ".rejects.parquet")


def parts_path(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


@dataclass(frozen=True)
class JobPaths:
    """Where a scoring job writes: the archive (a month partition) and/or a single-month file
    (`out`); the rejects and the resumable parts sit beside the single file when there is one,
    else beside the archive (`<archive>-rejects/YYYY-MM.parquet`, `.<archive>-YYYY-MM.parts`)."""

    out: Path | None
    archive: Path | None
    rejects: Path
    parts: Path

    @property
    def target(self) -> Path:
        """What a user is told the job wrote (the archive partition, else the file)."""
        return self.out if self.out is not None else self.archive  # type: ignore[return-value]


def job_paths(month: dt.date, *, out: Path | None, archive: Path | None) -> JobPaths:
    if out is None and archive is None:
        raise DataError("scoring needs somewhere to write: an archive folder, an --out file, or both")
    if out is not None:
        out = Path(out)
        return JobPaths(out=out, archive=archive, rejects=rejects_path(out), parts=parts_path(out))
    archive = Path(archive)  # type: ignore[arg-type]
    return JobPaths(out=None, archive=archive,
                    rejects=archive.parent / f"{archive.name}-rejects" / f"{month:%Y-%m}.parquet",
                    parts=archive.parent / f".{archive.name}-{month:%Y-%m}.parts")


@contextlib.contextmanager
def job_lock(paths: JobPaths, month: dt.date) -> Iterator[None]:
    """Hold the locks of what a job writes (the --out file, the archive month) for the whole
    job: a second job on the same output refuses in one line naming the holder, before it
    touches the parts, the rejects or the output."""
    with contextlib.ExitStack() as stack:
        if paths.out is not None:
            stack.enter_context(output_lock(paths.out))
        if paths.archive is not None:
            stack.enter_context(client_archive.month_lock(paths.archive, month))
        yield


def memory_fingerprint(archive: Path | None, month: dt.date, *, trend_months: int) -> str:
    """A digest of the archive partitions the tier memory of `month` is read from: a resumed job
    never mixes chunks scored with another memory."""
    from tierwise.scoring._checkpoint import file_fingerprint

    months = client_archive.memory_months(archive, month, trend_months=trend_months)
    files = [client_archive.partition_dir(archive, m) / client_archive.PART_FILE for m in months]  # type: ignore[arg-type]
    return file_fingerprint(files) if files else "none"


def with_memory(features: pd.DataFrame, prior: pd.DataFrame) -> pd.DataFrame:
    """Snapshot features with the tier memory the policy reads (`tier_prev`, `p_default_prev`)
    of each client; clients without an archived month in the window get nulls."""
    if len(prior) == 0:
        return features
    memory = prior.set_index(CLIENT_KEY)[["tier_prev", "p_default_prev"]]
    memory = memory.reindex(pd.Index(features[CLIENT_KEY].astype("str").to_numpy(), name=CLIENT_KEY))
    out = features.copy()
    out["tier_prev"] = memory["tier_prev"].to_numpy(dtype=object)
    out["p_default_prev"] = memory["p_default_prev"].to_numpy(dtype=float)
    return out


def rejects_frame(report: Any) -> pd.DataFrame:
    """Quarantined rows of both tables with their reasons, in one small frame (None: empty)."""
    parts = []
    tables = () if report is None else (("clients", report.rejected_clients), ("monthly", report.rejected_monthly))
    for table, frame in tables:
        if len(frame) == 0:
            continue
        month = frame[MONTH_KEY] if MONTH_KEY in frame.columns and table == "monthly" else pd.NaT
        parts.append(pd.DataFrame({
            "table": table,
            ROW_ID: frame[ROW_ID].to_numpy(dtype=np.int64),
            CLIENT_KEY: frame[CLIENT_KEY].astype("str").to_numpy(dtype=object, na_value=None),
            MONTH_KEY: pd.to_datetime(month, errors="coerce"),
            "reason": frame["reason"].astype("str").to_numpy(dtype=object),
        }))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype="datetime64[ns]" if c == MONTH_KEY else
                                          ("int64" if c == ROW_ID else "str")) for c in REJECT_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out[MONTH_KEY] = out[MONTH_KEY].astype("datetime64[ns]")
    out["table"] = out["table"].astype("str")
    out[CLIENT_KEY] = out[CLIENT_KEY].astype("str")
    out["reason"] = out["reason"].astype("str")
    return out


def input_files(data_dir: Path) -> tuple[Path, Path]:
    """The `clients` and `monthly` files of a data folder."""
    return table_path(data_dir, "clients"), table_path(data_dir, "monthly")


def fingerprinted_files(data_dir: Path) -> tuple[Path, ...]:
    """What a scoring job's input fingerprint covers: `input_files` and, when the bank has one,
    its `relations` table (groups and contagion depend on it: a resume after the relations
    changed recomputes). Without relations the fingerprint is what it always was."""
    relations = relations_path(data_dir)
    return (*input_files(data_dir), *([relations] if relations is not None else []))


def prepare_month(clients: pd.DataFrame, monthly: pd.DataFrame, month: dt.date, *,
                  sources: tuple[str, str], rules: ContractRules | None = None) -> MonthInputs:
    """The preparation step of both engines (pandas: per chunk of clients; Spark: the whole
    tables): validate the rows, quarantine the bad ones with their reasons, and keep the
    clients with a row at `month` with their history up to it.

    Every contract rule is per client, so preparing chunks equals preparing the whole. Rows
    of a set in which nothing is usable are all quarantined; clients without any monthly
    row are left out (there is nothing to score them on). `rules`: the bank's reference lists
    (`reference_rules` of its data folder), as `tierwise validate` checks them."""
    report = _validate(clients, monthly, sources, rules)
    if report is None:
        rejects = _all_rejected(clients, monthly) if len(monthly) else rejects_frame(None)
        return MonthInputs(clients=clients.iloc[:0].drop(columns=[ROW_ID]),
                           monthly=monthly.iloc[:0].drop(columns=[ROW_ID], errors="ignore"), rejects=rejects)
    t = pd.Timestamp(month)
    kept = report.monthly
    alive = pd.Index(kept.loc[kept[MONTH_KEY] == t, CLIENT_KEY].unique())
    history = kept[(kept[MONTH_KEY] <= t) & text_isin(kept[CLIENT_KEY], alive)].drop(columns=[ROW_ID])
    kept_clients = report.clients[text_isin(report.clients[CLIENT_KEY], alive)].drop(columns=[ROW_ID])
    return MonthInputs(clients=kept_clients.sort_values(CLIENT_KEY, ignore_index=True),
                       monthly=history.sort_values([CLIENT_KEY, MONTH_KEY], ignore_index=True),
                       rejects=rejects_frame(report))


def _validate(clients: pd.DataFrame, monthly: pd.DataFrame, sources: tuple[str, str],
              rules: ContractRules | None) -> Any:
    """`validate_tables`, or None when no row is usable."""
    if len(monthly) == 0 or len(clients) == 0:
        return None
    try:
        return validate_tables(clients, monthly, rules=rules, sources=sources)
    except DataError as exc:
        logger.info("no usable rows among %d client(s) (%s): all of their rows are rejected", len(clients), exc)
        return None


def _all_rejected(clients: pd.DataFrame, monthly: pd.DataFrame) -> pd.DataFrame:
    rows = []
    if len(clients):
        rows.append(pd.DataFrame({"table": "clients", ROW_ID: clients[ROW_ID].to_numpy(),
                                  CLIENT_KEY: clients[CLIENT_KEY].astype("str").to_numpy(),
                                  MONTH_KEY: pd.NaT, "reason": "no usable client row in its chunk"}))
    if len(monthly):
        rows.append(pd.DataFrame({"table": "monthly", ROW_ID: monthly[ROW_ID].to_numpy(),
                                  CLIENT_KEY: monthly[CLIENT_KEY].astype("str").to_numpy(),
                                  MONTH_KEY: monthly[MONTH_KEY].to_numpy(),
                                  "reason": "client_id: client row rejected"}))
    return pd.concat(rows, ignore_index=True) if rows else rejects_frame(None)


def write_rejects(rejects: pd.DataFrame, paths: JobPaths) -> None:
    """The quarantined rows beside the output (always written, empty when none)."""
    write_arrow_atomic(rejects, paths.rejects)
    if len(rejects):
        logger.warning("%d row(s) quarantined with reasons in %s", len(rejects), paths.rejects)


def check_something_scored(recs: pd.DataFrame, rejects: pd.DataFrame, month: dt.date, source: Path,
                           paths: JobPaths) -> None:
    """`DataError` when no client could be scored, saying whether rows were quarantined."""
    if len(recs):
        return
    if len(rejects):
        raise DataError(f"{source}: no client has a usable row for --month {month:%Y-%m}; nothing to score "
                        f"(see {paths.rejects})")
    raise DataError(f"{source}: no client has a row for --month {month:%Y-%m}; nothing to score")


def rejected_counts(rejects: pd.DataFrame) -> dict[str, int]:
    return {name: int((rejects["table"] == name).sum()) for name in ("clients", "monthly")}


ROW_GROUP_ROWS = 100_000
"""Rows per row group of the output files, whatever the chunks: the bytes of a month's files do
not depend on how the job cut the clients (chunk size, engine)."""


def finish(recs: pd.DataFrame, recommender: Recommender, paths: JobPaths, *, month: dt.date,
           prior: pd.DataFrame, model_version: str, fingerprint: str,
           groups: pd.Series | None = None) -> pd.DataFrame:
    """The batch steps over every client (`batch_steps`) and the atomic writes of the month's
    archive partition and/or the single-month file (`write_outputs`); returns the rows after the
    batch steps."""
    rows = batch_steps(recs, recommender, month=month, prior=prior, groups=groups)
    pieces = (rows.iloc[i:i + ROW_GROUP_ROWS] for i in range(0, len(rows), ROW_GROUP_ROWS))
    write_outputs(pieces, paths, month=month, prior=prior, model_version=model_version, fingerprint=fingerprint,
                  groups=groups)
    return rows


def batch_steps(recs: pd.DataFrame, recommender: Recommender, *, month: dt.date, prior: pd.DataFrame,
                groups: pd.Series | None = None) -> pd.DataFrame:
    """The steps over every client: exit reviews carried from the archive, contagion within the
    connected `groups` when the bank has relations, then relationship-manager capacity; sorted
    by client_id. They read and write only the policy's columns, never the model reasons
    (`detail_columns`), so `recs` may leave those out. Client ids must be unique."""
    recs = recs.loc[:, [c for c in recommender.output_columns if c in recs.columns]].reset_index(drop=True)
    recs = advance_reviews(recs, prior, recommender.policy, month)
    recs = apply_contagion(recs, groups, recommender.policy.policy)
    if recommender.family is not None:  # a review opened or a group flag raised above: the offers' gates again
        recs = gate_offers(recs, recommender.family)
    n_rms = int(recs["rm_id"].dropna().nunique()) if "rm_id" in recs.columns else None
    recs = apply_rm_capacity(recs, recommender.policy, n_rms=n_rms or None)
    if recs[CLIENT_KEY].duplicated().any():
        raise DataError(f"scoring: client_id is not unique among the {len(recs)} scored rows")
    return recs.sort_values(CLIENT_KEY, kind="stable", ignore_index=True)


def detail_columns(recommender: Recommender) -> list[str]:
    """The model reason columns (`reason_<task>_<k>_*`): the bulk of an output row, which the
    batch steps never read, so a job can keep them on disk until it writes the output."""
    prefixes = tuple(f"reason_{task}_" for task in recommender.tasks)
    return [c for c in recommender.output_columns if c.startswith(prefixes)]


def write_outputs(pieces: Iterable[pd.DataFrame], paths: JobPaths, *, month: dt.date, prior: pd.DataFrame,
                  model_version: str, fingerprint: str, groups: pd.Series | None = None) -> None:
    """Write the month's rows as they come (`pieces`: frames of whole output rows, in client_id
    order, the batch steps done) into the archive partition and/or the single-month file (the
    same rows, with `month`): each piece is laid out as an archive row (`archive_rows`) and
    appended, so memory holds a piece, not the month. Both files are written to a temporary
    file beside them and renamed at the end: whole or not at all."""
    stamp = np.datetime64(month, "ns")
    with contextlib.ExitStack() as stack:
        to_archive = to_out = None
        if paths.archive is not None:
            target = client_archive.partition_dir(paths.archive, month) / client_archive.PART_FILE
            to_archive = stack.enter_context(parquet_stream(target, durable=True, **client_archive.PARTITION_OPTIONS))
        if paths.out is not None:
            to_out = stack.enter_context(parquet_stream(paths.out))
        written = 0
        for piece in pieces:
            if len(piece) == 0:
                continue
            rows = client_archive.archive_rows(piece.reset_index(drop=True), prior, model_version=model_version,
                                               fingerprint=fingerprint, groups=groups)
            table = client_archive.to_partition(rows)
            written += table.num_rows
            if to_archive is not None:
                to_archive(table)
            if to_out is not None:
                months = pa.array(np.full(table.num_rows, stamp), pa.timestamp("ns"))
                to_out(table.add_column(1, "month", months))
    if paths.archive is not None:
        logger.info("archived %d client(s) for %s in %s", written, f"{month:%Y-%m}", paths.archive)


@contextlib.contextmanager
def parquet_stream(path: Path, *, durable: bool = False, rows: int = ROW_GROUP_ROWS,
                   **options: Any) -> Iterator[Callable[[pa.Table], None]]:
    """A Parquet file written as it is produced: yields `add(table)`; the tables (one schema, in
    order) are written in row groups of exactly `rows` rows (the last one shorter), however they
    were cut, so the same rows give the same bytes. The file is a temporary one beside `path`
    (`atomic_path`) renamed over it when the block ends without an exception. `options` go to
    `pyarrow.parquet.ParquetWriter` (compression, statistics)."""
    with atomic_path(path, durable=durable) as tmp:
        writer: pq.ParquetWriter | None = None
        pending: list[pa.Table] = []
        held = 0

        def flush(final: bool) -> None:
            nonlocal held, pending
            if not pending:
                return
            buffered = pa.concat_tables(pending)
            whole = buffered.num_rows if final else buffered.num_rows - buffered.num_rows % rows
            if whole:
                writer.write_table(buffered.slice(0, whole), row_group_size=rows)  # type: ignore[union-attr]
            rest = buffered.slice(whole)
            pending, held = ([rest], rest.num_rows) if rest.num_rows else ([], 0)

        def add(table: pa.Table) -> None:
            nonlocal writer, held
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, **options)
            pending.append(table)
            held += table.num_rows
            if held >= rows:
                flush(final=False)

        try:
            yield add
            if writer is None:
                raise DataError(f"{path}: nothing to write")
            flush(final=True)
        finally:
            if writer is not None:
                writer.close()


def log_run(*, recs: pd.DataFrame, inputs: RunInputs, model_uri: str, model_version: str, engine: str,
            out: Path, seconds: float) -> str:  # out: the file or the archive folder
    """One MLflow run per scoring job: model version, input fingerprint, counts, tiers."""
    import mlflow

    client = tracking.connect()
    exp_id = tracking.experiment_id(client, EXPERIMENT)
    summary = summarise_tiers(recs) if len(recs) else None
    with mlflow.start_run(experiment_id=exp_id, run_name=f"score {inputs.month:%Y-%m}") as run:
        mlflow.log_params({"model_uri": model_uri, "model_version": model_version,
                           "input_fingerprint": inputs.fingerprint, "month": f"{inputs.month:%Y-%m}",
                           "engine": engine, "output": str(out)})
        mlflow.set_tags({"tierwise.fingerprint": inputs.fingerprint, "tierwise.model_version": model_version})
        metrics = {"clients_scored": len(recs), "seconds": seconds,
                   **{f"rows_in_{k}": v for k, v in inputs.rows_in.items()},
                   **{f"rows_rejected_{k}": v for k, v in inputs.rows_rejected.items()}}
        for tier, count in recs["tier"].value_counts().items():
            metrics[f"tier_{tier}_clients"] = count
            metrics[f"tier_{tier}_share"] = count / max(len(recs), 1)
        for flag in [c for c in recs.columns if c.startswith("flag_")]:
            metrics[f"{flag}_clients"] = int(recs[flag].sum())
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        if summary is not None:
            mlflow.log_text(summary.to_csv(), "tier_summary.csv")
    return run.info.run_id

