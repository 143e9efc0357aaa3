"""The pandas scoring engine: chunks of clients, one after another, each written as a part.

Memory stays bounded by a chunk, not by the bank:

1. the `clients` table is read whole (one row per client: small) and cut into chunks of
   `chunk_clients` consecutive client ids; the chunk bounds cover every possible id, so each
   monthly row belongs to exactly one chunk;
2. the `monthly` table is read once, in record batches, and each chunk gets its rows (row ids
   `_row` are positions in the file). A `monthly.parquet` in client_id order (what a warehouse
   export ordered by client gives, and what the synthetic bank writes) is streamed: its row
   groups' client_id statistics decide it, every batch confirms it (ids non-decreasing within
   and across batches, none missing), and the batches are cut at the chunks' first ids, no
   rewrite. Any other file (CSV too) is first split by chunk into per-chunk Arrow IPC files in
   `<out>.parts/input/` (LZ4-compressed: a tenth of the cost of writing Parquet). A file that
   turns out out of order mid-stream is scored again from the split: the chunks it streamed are
   recomputed (the manifest records how each part's rows came). The extract's first and last
   month come first, from one read of the month column;
3. per chunk: validation of the chunk's clients and monthly rows (every contract rule is
   per client -- types, ranges, duplicate keys, orphan rows, timelines -- so validating the
   chunks equals validating the whole; quarantined rows go to a per-chunk rejects part),
   snapshot features at the month, the recommender (its task models, TreeSHAP reasons,
   per-client policy); the chunk's output is written to `<out>.parts/` at once and listed in
   the manifest, so a killed job resumes from the chunks it had finished;
4. after the last chunk: the month's connected groups (relations), the batch steps over everyone
   (exit reviews, contagion, relationship-manager capacity) on the policy columns only, then the
   output written chunk by chunk as it is produced (each chunk's model reasons read back from
   its part, row groups of a fixed size, a temporary file renamed at the end: `write_outputs`),
   so memory does not hold the month's output; all rejects beside the output
   (`<out>.rejects.parquet`), the MLflow run.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tierwise import archive as client_archive
from tierwise.features import (
    CLIENT_KEY,
    MONTH_KEY,
    MONTHLY_COLUMNS,
    ROW_ID,
    ContractRules,
    DataError,
    FeatureConfig,
    check_month_in_range,
    make_folder,
    months_within_end,
    read_table,
    reference_rules,
    snapshot_features,
)
from tierwise.groups import month_groups
from tierwise.models import RECOMMENDATION_COLUMNS, GroupsConfig, Recommender
from tierwise.scoring._checkpoint import PartStore, file_fingerprint
from tierwise.scoring._job import (
    REJECT_COLUMNS,
    RunInputs,
    ScoreResult,
    batch_steps,
    check_something_scored,
    detail_columns,
    fingerprinted_files,
    input_files,
    job_lock,
    job_paths,
    log_run,
    memory_fingerprint,
    prepare_month,
    rejected_counts,
    rejects_frame,
    with_memory,
    write_outputs,
    write_rejects,
)

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]
BATCH_ROWS = 1_000_000


def score_chunk(recommender: Recommender, clients: pd.DataFrame, monthly: pd.DataFrame, month: dt.date,
                config: FeatureConfig, prior: pd.DataFrame) -> pd.DataFrame:
    """Recommendations for one chunk of validated clients (all of their history up to `month`),
    with the tier memory of `prior` (the archive's last months)."""
    features = with_memory(snapshot_features(clients, monthly, month, config), prior)
    return recommender.recommend(features)


def _memory_step(step: str) -> None:
    """At DEBUG (`tierwise -vv score`), on Linux: the resident memory at the peak of `step` (since
    the step before) and after it, to tell which step of a job holds the peak. It resets the
    kernel's high-water mark of the process (`/proc/self/clear_refs`), so a -vv run's maximum
    resident size as `time` reports it is the last step's: measure peaks without -vv."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    try:
        status = Path("/proc/self/status").read_text()
        now, peak = (int(re.search(rf"{key}:\s+(\d+)", status).group(1)) / 1024 for key in ("VmRSS", "VmHWM"))
        Path("/proc/self/clear_refs").write_text("5")  # the next step's peak is its own
    except (OSError, AttributeError):
        return
    logger.debug("memory: %s peaked at %.0f MiB resident, %.0f MiB after it (%.0f MiB allocated by Arrow)",
                 step, peak, now, pa.total_allocated_bytes() / 2**20)


def _month_values(values: pd.Series) -> pd.Series:
    """Month column as datetime64 (as `features.read_table` gives it; unparseable -> NaT)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[ns]")
    return pd.to_datetime(values, errors="coerce", format="mixed").astype("datetime64[ns]")


def _lower_bounds(ids: np.ndarray, size: int) -> list[str]:
    """First client id of each chunk (sorted unique ids, `size` per chunk)."""
    return [str(ids[a]) for a in range(0, len(ids), size)]


def _chunk_of(ids: pa.Array, lowers: list[str]) -> np.ndarray:
    """Chunk index of each id: the last chunk whose first id is <= it (ids below the first
    chunk's, and missing ids, go to chunk 0)."""
    values = ids.to_numpy(zero_copy_only=False)
    values = np.where(pd.isna(values), "", values).astype(object)
    return np.maximum(np.searchsorted(np.array(lowers, dtype=object), values, side="right") - 1, 0)


def _split_monthly(path: Path, lowers: list[str], folder: Path) -> None:
    """Write the monthly rows of each chunk to `folder/chunk-<i>.arrow` (Arrow IPC), the rows of a
    chunk in file order with their positions in the file as `_row`."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}
    schemas: dict[int, pa.Schema] = {}
    offset = 0
    try:
        for batch in _monthly_batches(path):
            table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
            table = table.append_column(ROW_ID, pa.array(np.arange(offset, offset + table.num_rows), pa.int64()))
            offset += table.num_rows
            chunk = _chunk_of(table.column(CLIENT_KEY).combine_chunks(), lowers)
            order = np.argsort(chunk, kind="stable")
            bounds = np.searchsorted(chunk[order], np.arange(len(lowers) + 1))
            for i in np.flatnonzero(np.diff(bounds)):
                part = table.take(pa.array(order[bounds[i]:bounds[i + 1]]))
                if i not in writers:
                    schemas[i] = part.schema
                    writers[i] = pa.ipc.new_file(_chunk_file(folder, i), part.schema, options=_IPC_OPTIONS)
                writers[i].write_table(part.cast(schemas[i]))
    finally:
        for writer in writers.values():
            writer.close()


def _month_span(path: Path, rules: ContractRules) -> tuple[int, pd.Timestamp, pd.Timestamp]:
    """The monthly table's row count and the first and last month the extract covers (rows after
    its end month left out), from one read of its month column."""
    offset = 0
    lo, hi = pd.NaT, pd.NaT
    for batch in _monthly_batches(path, columns=[MONTH_KEY]):
        months = months_within_end(_month_values(batch.column(MONTH_KEY).to_pandas()), rules)
        if months.notna().any():
            lo = months.min() if pd.isna(lo) else min(lo, months.min())
            hi = months.max() if pd.isna(hi) else max(hi, months.max())
        offset += batch.num_rows
    return offset, lo, hi


STREAM_BATCH_ROWS = 131_072
"""Rows per record batch when the monthly file is streamed: a chunk holds slices of at most a
batch more than its own rows."""


class _Unordered(Exception):
    """The monthly file, streamed as if in client_id order, is not (found while reading it)."""


def _in_order_by_statistics(path: Path) -> bool:
    """Whether a Parquet monthly file looks in client_id order from its row groups' statistics:
    a text id column, no null id, each row group's smallest id at least the previous one's
    largest. Only a first decision: the stream confirms it batch by batch."""
    if path.suffix != ".parquet":
        return False
    try:
        handle = pq.ParquetFile(path)
    except (OSError, pa.ArrowException):
        return False
    names = handle.schema_arrow.names
    if CLIENT_KEY not in names or handle.schema_arrow.field(CLIENT_KEY).type not in (pa.string(), pa.large_string()):
        return False
    meta = handle.metadata
    column = [meta.schema.column(j).path for j in range(meta.num_columns)].index(CLIENT_KEY)
    previous = None
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(column).statistics
        if meta.row_group(g).num_rows == 0:
            continue
        if stats is None or not stats.has_min_max or stats.null_count is None or stats.null_count > 0:
            return False
        if not isinstance(stats.min, str) or (previous is not None and stats.min < previous):
            return False
        previous = stats.max
    return previous is not None


def _first_at_least(ids: pa.Array, value: str, start: int, stop: int) -> int:
    """The first position in `ids[start:stop]` (sorted) whose id is >= `value` (`stop`: none)."""
    while start < stop:
        middle = (start + stop) // 2
        if ids[middle].as_py() < value:
            start = middle + 1
        else:
            stop = middle
    return start


def _streamed_monthly(path: Path, lowers: list[str]) -> Iterator[tuple[int, list[pa.Table | None]]]:
    """The monthly rows of every chunk in chunk order, each in a one-item list (None: the chunk
    has none), read once from a file in client_id order and cut at the chunks' first ids, with
    their positions in the file as `_row`. Raises `_Unordered` at the first batch whose ids go
    down (within it or from the batch before) or are missing: the chunks yielded so far may then
    lack rows."""
    current, pending, offset, last = 0, [], 0, None

    def rows_of_current() -> list[pa.Table | None]:  # a box: its taker holds the rows, not this generator
        return [pa.concat_tables(pending) if pending else None]

    for batch in _monthly_batches(path, batch_size=STREAM_BATCH_ROWS):
        ids, rows = batch.column(CLIENT_KEY), batch.num_rows
        if rows == 0:
            continue
        if ids.null_count or (last is not None and ids[0].as_py() < last) or (
                rows > 1 and not pc.all(pc.greater_equal(ids.slice(1), ids.slice(0, rows - 1))).as_py()):
            raise _Unordered(f"{path}: client_id goes down or is missing in the rows from {offset}")
        last = ids[rows - 1].as_py()
        table = pa.Table.from_batches([batch]).append_column(
            ROW_ID, pa.array(np.arange(offset, offset + rows), pa.int64()))
        offset += rows
        start = 0
        while start < rows:
            chunk = max(bisect.bisect_right(lowers, ids[start].as_py()) - 1, 0)
            while current < chunk:
                box = rows_of_current()
                pending = []
                yield current, box
                current += 1
            stop = rows if current + 1 == len(lowers) else _first_at_least(ids, lowers[current + 1], start, rows)
            pending.append(table.slice(start, stop - start))
            start = stop
    while current < len(lowers):
        box = rows_of_current()
        pending = []
        yield current, box
        current += 1


def _split_chunks(path: Path, lowers: list[str], folder: Path) -> Iterator[tuple[int, Callable[[], pd.DataFrame]]]:
    """The monthly rows of every chunk through `_split_monthly`'s chunk files."""
    _split_monthly(path, lowers, folder)
    for index in range(len(lowers)):
        yield index, lambda index=index: _read_chunk_monthly(folder, index)


def _stream_chunks(path: Path, lowers: list[str]) -> Iterator[tuple[int, Callable[[], pd.DataFrame]]]:
    """The monthly rows of every chunk streamed (`_streamed_monthly`); a chunk's Arrow rows are
    let go as they become its frame, so the chunk's work does not also hold them."""
    for index, box in _streamed_monthly(path, lowers):
        yield index, lambda box=box: _chunk_frame(box.pop())


def _monthly_batches(path: Path, *, columns: list[str] | None = None, batch_size: int = BATCH_ROWS):
    """The monthly table in record batches (`columns` of it; None: all), in file order."""
    if path.suffix == ".parquet":
        try:
            handle = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{path}: cannot be read: {str(exc).splitlines()[0]}") from None
        names = handle.schema_arrow.names
        missing = [c.name for c in MONTHLY_COLUMNS if c.name not in names]
        if missing:
            raise DataError(f"{path}: missing column '{missing[0]}'")
        if handle.metadata.num_rows == 0:
            raise DataError(f"{path}: table is empty (no rows)")
        yield from handle.iter_batches(batch_size=batch_size, columns=columns)
    else:  # CSV: read (as text, checked) by the feature layer's reader, then split in memory
        frame = read_table(path.parent, "monthly")
        yield pa.Table.from_pandas(frame if columns is None else frame[columns], preserve_index=False)


_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


def _chunk_file(folder: Path, index: int) -> Path:
    return folder / f"chunk-{index:06d}.arrow"


def _read_chunk_monthly(folder: Path, index: int) -> pd.DataFrame:
    path = _chunk_file(folder, index)
    if not path.is_file():
        return pd.DataFrame()
    with pa.ipc.open_file(path) as reader:
        return _chunk_frame(reader.read_all())


def _chunk_frame(table: pa.Table | None) -> pd.DataFrame:
    """One chunk's monthly rows as the preparation step reads them (no rows: an empty frame)."""
    if table is None:
        return pd.DataFrame()
    frame = table.to_pandas(split_blocks=True, self_destruct=True)  # each column freed as it is converted
    del table
    frame[MONTH_KEY] = _month_values(frame[MONTH_KEY])
    return frame


def score_pandas(data_dir: Path, month: dt.date, out: Path | None = None, *, recommender: Recommender,
                 feature_config: FeatureConfig, model_uri: str, model_version: str,
                 archive: Path | None = None, chunk_clients: int = 50_000,
                 on_start: Callable[[int], None] | None = None, progress: Progress | None = None,
                 keep_parts: bool = False, groups: GroupsConfig | None = None) -> ScoreResult:
    """Score every client alive at `month` into the `archive` partition and/or the `out` file;
    tier memory comes from the archive's months before `month`; with a `relations` table, the
    month's connected groups (`groups` settings, default `GroupsConfig()`) carry default and
    exit review to related firms. See the module docstring. One job at a time per output: the
    --out file and the archive month are locked for the whole job (`job_lock`).
    """
    with job_lock(job_paths(month, out=out, archive=archive), month):
        return _score_pandas(data_dir, month, out, recommender=recommender, feature_config=feature_config,
                             model_uri=model_uri, model_version=model_version, archive=archive,
                             chunk_clients=chunk_clients, on_start=on_start, progress=progress,
                             keep_parts=keep_parts, groups=groups)


def _score_pandas(data_dir: Path, month: dt.date, out: Path | None = None, *, recommender: Recommender,
                  feature_config: FeatureConfig, model_uri: str, model_version: str,
                  archive: Path | None = None, chunk_clients: int = 50_000,
                  on_start: Callable[[int], None] | None = None, progress: Progress | None = None,
                  keep_parts: bool = False, groups: GroupsConfig | None = None) -> ScoreResult:
    began = time.perf_counter()
    data_dir = Path(data_dir)
    paths = job_paths(month, out=out, archive=archive)
    make_folder(paths.parts.parent)
    files = input_files(data_dir)
    fingerprint = file_fingerprint(fingerprinted_files(data_dir), month.isoformat())
    prior = client_archive.prior_state(archive, month, trend_months=recommender.policy.policy.risk.trend_months)
    memory = memory_fingerprint(archive, month, trend_months=recommender.policy.policy.risk.trend_months)
    clients = read_table(data_dir, "clients")
    clients[ROW_ID] = np.arange(len(clients), dtype=np.int64)
    _memory_step("start-up (imports, the recommender) and reading the clients")
    ids = clients[CLIENT_KEY]
    sorted_ids = np.sort(ids.dropna().astype("str").unique().to_numpy(dtype=object)) if ids.notna().any() \
        else np.array([""], dtype=object)
    lowers = _lower_bounds(sorted_ids, chunk_clients)
    store = PartStore(paths.parts, {"fingerprint": fingerprint, "model_version": model_version,
                                    "model_uri": model_uri, "chunk_clients": chunk_clients,
                                    "engine": "pandas", "memory": memory})
    split_folder = store.folder / "input"
    rules = reference_rules(data_dir)
    monthly_rows, lo, hi = _month_span(files[1], rules)
    _memory_step("the monthly table's months")
    check_month_in_range(month, (lo, hi), source=str(files[1]), what="--month")
    if not pd.isna(hi):  # the extract's latest month for every chunk, as validating it whole gives
        rules = replace(rules, latest_month=hi.date())
    client_chunk = _chunk_of(pa.array(ids.astype("str").to_numpy(dtype=object, na_value=None), pa.string()),
                             lowers)
    if on_start:
        on_start(len(lowers))
    work = _ChunkWork(recommender=recommender, feature_config=feature_config, month=month, prior=prior, rules=rules,
                      sources=(str(files[0]), str(files[1])), store=store, lowers=lowers, clients=clients,
                      client_chunk=client_chunk, ticks=_Ticks(progress or (lambda n=1: None)))
    if _in_order_by_statistics(files[1]):
        logger.info("%s is in client_id order: its rows are streamed into the chunks", files[1])
        try:
            resumed = work.score(_stream_chunks(files[1], lowers), _STREAMED)
        except _Unordered as exc:
            logger.info("%s after all; scoring again from its rows split by chunk", exc)
            store.forget([i for i, entry in store.done.items() if entry.get("source") == _STREAMED])
            resumed = work.score(_split_chunks(files[1], lowers, split_folder), _SPLIT)
    else:
        logger.info("%s is not known to be in client_id order: its rows are split by chunk first", files[1])
        resumed = work.score(_split_chunks(files[1], lowers, split_folder), _SPLIT)
    if resumed:
        logger.info("resumed: %d of %d chunk(s) were already done", resumed, len(lowers))
    n_clients = len(clients)
    del work, clients  # the whole clients table is not needed past the chunks (the groups read their ids)
    # the month's groups before the rows are gathered: checking the relations table is the
    # job's largest allocation, and it is freed once the groups are known
    related, relation_rejects = month_groups(data_dir, month, ids, groups or GroupsConfig())
    _memory_step("the groups")
    details = detail_columns(recommender)
    recs, rejects = _gather(store, tuple(c for c in recommender.output_columns if c not in details))
    _memory_step("gathering the parts")
    if relation_rejects is not None and len(relation_rejects):
        rejects = pd.concat([rejects, relation_rejects], ignore_index=True)
    write_rejects(rejects, paths)
    check_something_scored(recs, rejects, month, files[1], paths)
    inputs = RunInputs(month=month, fingerprint=fingerprint, rows_in={"clients": n_clients, "monthly": monthly_rows},
                       rows_rejected=rejected_counts(rejects))
    gathered = [recs]  # handed over, so that the gathered frame is not held through the batch steps
    del recs
    recs = batch_steps(gathered.pop(), recommender, month=month, prior=prior, groups=related)
    _memory_step("the batch steps")
    write_outputs(_with_details(store, recs, details), paths, month=month, prior=prior,
                  model_version=model_version, fingerprint=fingerprint, groups=related)
    _memory_step("writing the output")
    seconds = time.perf_counter() - began
    run_id = log_run(recs=recs, inputs=inputs, model_uri=model_uri, model_version=model_version,
                     engine="pandas", out=paths.target, seconds=seconds)
    if not keep_parts:
        store.remove()
    else:
        shutil.rmtree(split_folder, ignore_errors=True)
    return ScoreResult(out=paths.out, archived=paths.archive, clients=len(recs), chunks=len(lowers), resumed_chunks=resumed,
                       tiers=recs["tier"].value_counts().to_dict(), rejected=inputs.rows_rejected,
                       run_id=run_id, seconds=seconds)


_STREAMED, _SPLIT = "streamed", "split"  # how a part's monthly rows came (the manifest keeps it)


@dataclass(frozen=True)
class _ChunkWork:
    """What scoring the chunks of one job reads: the recommender and its settings, the month's
    rules, the part store, the chunks' first ids and every client with its chunk index."""

    recommender: Recommender
    feature_config: FeatureConfig
    month: dt.date
    prior: pd.DataFrame
    rules: ContractRules
    sources: tuple[str, str]
    store: PartStore
    lowers: list[str]
    clients: pd.DataFrame
    client_chunk: np.ndarray
    ticks: _Ticks

    def score(self, chunk_inputs: Iterator[tuple[int, Callable[[], pd.DataFrame]]], how: str) -> int:
        """Score and write every chunk not already done, each from its `monthly_of()` rows; `how`:
        the input path, kept in the manifest. Returns how many chunks were already done."""
        resumed = 0
        for index, monthly_of in chunk_inputs:
            bounds = (self._lower(index), self._lower(index + 1))
            if self.store.is_done(index, bounds):
                resumed += 1
            else:
                prepared = prepare_month(self.clients[self.client_chunk == index], monthly_of(), self.month,
                                         sources=self.sources, rules=self.rules)
                recs = (score_chunk(self.recommender, prepared.clients, prepared.monthly, self.month,
                                    self.feature_config, self.prior) if len(prepared.clients) else None)
                self.store.write(index, bounds, _chunk_part(recs, prepared.rejects), source=how)
                del prepared, recs  # not held while the next chunk is read and prepared
                _memory_step(f"chunk {index}")
            self.ticks(index)
        return resumed

    def _lower(self, index: int) -> str:
        """The first id of chunk `index` ("" past the last: its upper bound)."""
        return self.lowers[index] if index < len(self.lowers) else ""


class _Ticks:
    """Progress by chunk: one tick per chunk index the first time it is done (a job that scores
    again after a fallback does not count a chunk twice)."""

    def __init__(self, tick: Progress) -> None:
        self.tick, self.seen = tick, set()

    def __call__(self, index: int) -> None:
        if index not in self.seen:
            self.seen.add(index)
            self.tick(1)


_PART_KIND = "_part"


def _chunk_part(recs: pd.DataFrame | None, rejects: pd.DataFrame) -> pa.Table:
    """One part file per chunk: its recommendations and its rejects, told apart by `_part`."""
    parts = []
    if recs is not None and len(recs):
        parts.append(pa.Table.from_pandas(recs.assign(**{_PART_KIND: "recs"}), preserve_index=False))
    if len(rejects):
        parts.append(pa.Table.from_pandas(rejects.assign(**{_PART_KIND: "rejects"}), preserve_index=False))
    if not parts:
        return pa.table({_PART_KIND: pa.array([], pa.string())})
    return pa.concat_tables(parts, promote_options="permissive")


def _part_recs(path: Path, columns: list[str] | None = None) -> pa.Table:
    """The recommendations of one part file (`columns` of them; None: all)."""
    table = pq.read_table(path, columns=None if columns is None else [*columns, _PART_KIND])
    if table.num_rows == 0:
        return table
    return table.filter(pc.equal(table.column(_PART_KIND), "recs")).drop_columns([_PART_KIND])


def _with_details(store: PartStore, rows: pd.DataFrame, details: list[str]):
    """The output rows, a chunk at a time: `rows` (every client, the batch steps done, by
    client_id) with each chunk's model reasons read back from its part. Chunks cover consecutive
    client id ranges, so chunk after chunk is client_id order."""
    start = 0
    for path in store.files():
        part = _part_recs(path, [CLIENT_KEY, *details])
        if part.num_rows == 0:
            continue
        part = part.sort_by(CLIENT_KEY).to_pandas()
        piece = rows.iloc[start:start + len(part)].reset_index(drop=True)
        if not np.array_equal(piece[CLIENT_KEY].to_numpy(dtype=object), part[CLIENT_KEY].to_numpy(dtype=object)):
            raise RuntimeError(f"{path}: its clients are not the next {len(part)} of the month")  # a bug, not bad data
        start += len(part)
        yield pd.concat([piece, part.drop(columns=[CLIENT_KEY])], axis=1)
    if start != len(rows):
        raise RuntimeError(f"the parts hold {start} of the {len(rows)} scored clients")


def _gather(store: PartStore, columns: tuple[str, ...] = RECOMMENDATION_COLUMNS) -> tuple[pd.DataFrame, pd.DataFrame]:
    recs, rejects = [], []
    wanted = {_PART_KIND, *columns, *REJECT_COLUMNS}
    for path in store.files():  # only the columns gathered (not the model reasons), then the rows
        table = pq.read_table(path, columns=[c for c in pq.read_schema(path).names if c in wanted])
        if table.num_rows == 0:
            continue
        kind = table.column(_PART_KIND)
        for name, bucket in (("recs", recs), ("rejects", rejects)):
            chosen = pc.equal(kind, name)
            if pc.any(chosen).as_py():
                bucket.append(table.select(list(columns if name == "recs" else REJECT_COLUMNS)).filter(chosen))
    rec_frame = pa.concat_tables(recs, promote_options="permissive").to_pandas() if recs else pd.DataFrame()
    rej_frame = (pa.concat_tables(rejects, promote_options="permissive").to_pandas() if rejects
                 else rejects_frame(None))
    if len(rej_frame):
        rej_frame = rej_frame.loc[:, list(REJECT_COLUMNS)].sort_values(["table", ROW_ID], ignore_index=True)
    return rec_frame, rej_frame


