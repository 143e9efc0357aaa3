"""The optional `relations` table: the links between firms (ownership, guarantees, payment flows).

A bank that knows how its business clients are tied puts `relations.parquet` (or
`relations.csv`) in the data folder, next to `clients` and `monthly`, one row per link and
month:

- `client_id` (text): the client, as in `clients`;
- `counterparty_id` (text): the other firm -- another client's `client_id`, or the bank's own
  id of a firm that is not a client (an id only: never a name);
- `kind` (text): one of `RELATION_KINDS` --
  `control`: the client holds `share` of the counterparty (or controls it: majority
  ownership, the power to appoint the board; an empty share means control);
  `guarantee`: the client guarantees the counterparty's debt (`amount`, the guaranteed sum);
  `supplier`: the counterparty supplies the client: `amount` paid to it in the month;
  `customer`: the counterparty buys from the client: `amount` received from it in the month;
- `share` (number in 0..1, may be empty): the ownership share of a `control` link;
- `amount` (number >= 0, may be empty): the flow or guaranteed sum;
- `month` (a month, first day): the month the link is reported for.

Control and guarantee links hold from their month on until a later row for the same
(client, counterparty, kind) changes them (a share of 0 ends an ownership link); supplier and
customer flows count in their month only.

Bad rows are quarantined with their reason, never dropped silently (`check_relations`): a
missing or empty id, an unknown kind, a month that is not the first day of a month, a share
outside 0..1 or an amount below 0 (or not a number), a firm linked to itself, a supplier or
customer row without an amount, a client that is not in `clients`, and duplicate rows for the
same (client, counterparty, kind, month) -- all copies when they differ, the later copies when
they are identical. A bank without the file works exactly as without relations: no groups, no
contagion, no supply-chain leads.

A month's job (`read_relations(..., month=t)`: scoring's groups, the supply-chain leads) checks
only the rows month t can use (`month_rows`): control and guarantee rows dated in or before
t's calendar month, supplier and customer rows dated in t's calendar month, and every row
whose kind is not a known kind (empty, unknown) or whose month cannot be read (empty, not a
date, out of range) -- the job cannot tell which month such a row belongs to, so every
month's job quarantines it with its reason. A Parquet file is read with pyarrow one row group
at a time and filtered before pandas sees it; `_row` stays the row's position in the file. The
groups and leads of t are the same as from the whole table (a kept row they use is in the
rows read, and a duplicate key names one month); the rejects list only the rows read. Rows
of other months are not the month's business: `read_relations` without a month (and
`check_relations`) checks the whole table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tierwise.features._contract import CLIENT_KEY, MONTH_KEY, RawColumn
from tierwise.features._errors import DataError
from tierwise.features._io import ROW_ID, read_file, to_month_dtype
from tierwise.features._validation import (
    _duplicate_failures,
    _failure_rows,
    _rejected,
    coerce_types,
    text_isin,
)

RELATIONS = "relations"
COUNTERPARTY_KEY = "counterparty_id"
RELATION_COLUMNS: tuple[RawColumn, ...] = (
    RawColumn("client_id", "str", False, "client identifier, as in clients"),
    RawColumn("counterparty_id", "str", False, "the other firm: a client_id, or the bank's id of a non-client (no names)"),
    RawColumn("kind", "str", False, "control, guarantee, supplier or customer"),
    RawColumn("share", "float", True, "ownership share of a control link, 0..1 (empty: control)"),
    RawColumn("amount", "float", True, "payment flow in the month (supplier, customer) or guaranteed sum"),
    RawColumn("month", "month", False, "first day of the month the link is reported for"),
)
RELATION_KINDS: tuple[str, ...] = ("control", "guarantee", "supplier", "customer")
LINK_KINDS: tuple[str, ...] = ("control", "guarantee")
"""Kinds that hold until changed (a state); the others are flows of their month."""
FLOW_KINDS: tuple[str, ...] = ("supplier", "customer")


@dataclass(frozen=True)
class RelationsReport:
    """Kept rows (typed, with `_row`) and rejected rows (as read, with a `reason`)."""

    kept: pd.DataFrame
    rejected: pd.DataFrame

    @property
    def rows_in(self) -> int:
        return len(self.kept) + len(self.rejected)


def relations_path(folder: str | Path) -> Path | None:
    """`folder/relations.parquet`, else `folder/relations.csv`; None when the bank has neither."""
    for suffix in (".parquet", ".csv"):
        path = Path(folder) / f"{RELATIONS}{suffix}"
        if path.is_file():
            return path
    return None


def read_relations(folder: str | Path, client_ids: pd.Series | None = None, *,
                   month: dt.date | pd.Timestamp | None = None) -> RelationsReport | None:
    """The checked `relations` table of `folder` (see `check_relations`), or None when absent.
    With `month`, only the rows that month can use (`month_rows`, see the module docstring)."""
    path = relations_path(folder)
    if path is None:
        return None
    if month is None:
        return check_relations(read_file(path), client_ids=client_ids, source=str(path))
    rows, positions = month_rows(path, pd.Timestamp(month))
    return check_relations(rows, client_ids=client_ids, source=str(path), row_ids=positions)


def month_rows(path: Path, month: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
    """(the rows of the relations file `path` that `month` can use, as read, their positions in
    the file); see the module docstring. Only the contract's columns are read, a Parquet file one
    row group at a time: `kind` and `month` first, the other columns only of a row group that
    has a row to keep. A file without `kind` or `month` is read whole (its check names the
    missing column)."""
    names = [c.name for c in RELATION_COLUMNS]
    if path.suffix != ".parquet":
        frame = read_file(path)
        if "kind" not in frame.columns or MONTH_KEY not in frame.columns:
            return frame, np.arange(len(frame), dtype=np.int64)
        keep = np.flatnonzero(_month_mask(pa.array(frame["kind"].array), pa.array(frame[MONTH_KEY].array), month))
        present = [n for n in names if n in frame.columns]
        return frame.iloc[keep].loc[:, present].reset_index(drop=True), keep.astype(np.int64)
    try:
        schema = pq.read_schema(path)
        present = [n for n in names if n in schema.names]
        if "kind" not in present or MONTH_KEY not in present:
            table = pq.read_table(path, columns=present)
            return table.to_pandas(), np.arange(table.num_rows, dtype=np.int64)
        # text read as dictionaries (indices into the distinct values: no string copied per row),
        # decoded to the file's type for the rows kept only
        text = [n for n in present if pa.types.is_string(schema.field(n).type)
                or pa.types.is_large_string(schema.field(n).type)]
        file = pq.ParquetFile(path, read_dictionary=text)
        rest = [n for n in present if n not in ("kind", MONTH_KEY)]
        parts, positions, start = [], [], 0
        for group in range(file.num_row_groups):
            head = file.read_row_group(group, columns=["kind", MONTH_KEY])
            keep = np.flatnonzero(_month_mask(head.column("kind"), head.column(MONTH_KEY), month))
            if len(keep):
                taken = pa.array(keep)
                columns = {**dict(zip(rest, file.read_row_group(group, columns=rest).take(taken).columns, strict=True)),
                           **dict(zip(head.column_names, head.take(taken).columns, strict=True))}
                parts.append(pa.table({n: _decoded(columns[n], schema.field(n).type) for n in present}))
                positions.append(keep + start)
            start += head.num_rows
        table = pa.concat_tables(parts) if parts else schema.empty_table().select(present)
    except (OSError, ValueError, pa.ArrowException) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: cannot be read: {first}") from None
    rows = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
    return table.to_pandas(), rows.astype(np.int64)


def _decoded(column: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    """A column read as a dictionary, back in the file's type."""
    return column.cast(kind) if pa.types.is_dictionary(column.type) else column


_UNKNOWN, _LINK, _FLOW = 0, 1, 2


def _kind_class(kind: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per row: `_LINK`, `_FLOW` or `_UNKNOWN` (empty, not a known kind), with the check's
    normalisation (text, stripped, lower case) applied to the distinct values only."""
    chunks = kind.chunks if isinstance(kind, pa.ChunkedArray) else [kind]
    out = [np.zeros(0, dtype=np.int8)]
    for chunk in chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        values = chunk.dictionary.to_pandas()
        text = values.astype("str").str.strip().str.lower()
        cls = np.where(text.isin(LINK_KINDS), _LINK, np.where(text.isin(FLOW_KINDS), _FLOW, _UNKNOWN))
        cls = np.append(np.where(values.isna().to_numpy(), _UNKNOWN, cls), _UNKNOWN).astype(np.int8)
        idx = chunk.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)
        out.append(cls[idx])  # a missing kind takes the last entry: unknown
    return np.concatenate(out)


# the dates datetime64[ns] holds, in days since 1970 (as Arrow's date32)
_FIRST_DAY = int(np.datetime64(pd.Timestamp.min.ceil("D").date(), "D").astype(np.int64))
_LAST_DAY = int(np.datetime64(pd.Timestamp.max.floor("D").date(), "D").astype(np.int64))


def _month_mask(kind: pa.Array | pa.ChunkedArray, months: pa.Array | pa.ChunkedArray,
                month: pd.Timestamp) -> np.ndarray:
    """Rows `month` can use: links dated before the next month, flows dated in `month`'s
    calendar month, and rows of an unknown kind or an unreadable month (as `to_month_dtype`
    reads it: a date column is compared as days, without Python objects)."""
    start = month.to_period("M").to_timestamp()
    end = start + pd.offsets.MonthBegin(1)
    if isinstance(months, pa.ChunkedArray):
        months = months.combine_chunks()
    if pa.types.is_dictionary(months.type):  # text months read as a dictionary
        months = months.cast(months.type.value_type)
    if pa.types.is_date32(months.type):  # days since 1970; a missing date is below every bound
        values = months.cast(pa.int32()).fill_null(np.iinfo(np.int32).min).to_numpy()
        unread = (values < _FIRST_DAY) | (values > _LAST_DAY)
        start_at, end_at = (np.datetime64(t.date(), "D").astype(np.int64) for t in (start, end))
    else:
        values = to_month_dtype(pd.Series(months.to_pandas())).to_numpy(dtype="datetime64[ns]")
        unread = np.isnat(values)
        start_at, end_at = start.to_datetime64(), end.to_datetime64()
    cls = _kind_class(kind)
    before_end = ~unread & (values < end_at)
    in_month = before_end & (values >= start_at)
    return (cls == _UNKNOWN) | unread | ((cls == _LINK) & before_end) | ((cls == _FLOW) & in_month)


def check_relations(relations: pd.DataFrame, *, client_ids: pd.Series | None = None,
                    source: str = RELATIONS, row_ids: np.ndarray | None = None) -> RelationsReport:
    """Quarantine the bad rows of `relations` (see the module docstring for the rules).

    A missing column is a `DataError` naming `source`; every other problem rejects its rows
    with a reason (`column: rule (value)`; several reasons joined by `; `). `client_ids`, when
    given, are the known clients: a row of another client is rejected. Kept rows have text
    ids, a lower-case `kind`, float `share`/`amount` and a datetime64 `month`. `row_ids` (default:
    0, 1, ...) are the rows' `_row`: their positions in the file when only some rows were read.
    """
    missing = [c.name for c in RELATION_COLUMNS if c.name not in relations.columns]
    if missing:
        raise DataError(f"{source}: missing column '{missing[0]}' (a relations table has columns "
                        f"{', '.join(c.name for c in RELATION_COLUMNS)})")
    raw = relations.reset_index(drop=True)
    rows = np.arange(len(raw), dtype=np.int64) if row_ids is None else np.asarray(row_ids, dtype=np.int64)
    raw = raw.assign(**{ROW_ID: rows})
    typed, failures = coerce_types(raw, RELATION_COLUMNS)
    typed["kind"] = typed["kind"].str.strip().str.lower()
    for key in (CLIENT_KEY, COUNTERPARTY_KEY):
        typed[key] = typed[key].str.strip()
    checks = _row_checks(raw, typed, client_ids)
    failures = pd.concat([failures, *checks], ignore_index=True)
    bad = np.unique(failures[ROW_ID].to_numpy())
    rest = typed[~typed[ROW_ID].isin(bad)]
    dups = _duplicates(rest, raw)
    failures = pd.concat([failures, dups], ignore_index=True)
    bad = np.unique(failures[ROW_ID].to_numpy())
    kept = typed[~typed[ROW_ID].isin(bad)].loc[:, [ROW_ID, *[c.name for c in RELATION_COLUMNS]]]
    rejected = _rejected(raw, failures)
    return RelationsReport(kept.reset_index(drop=True), rejected)


def _row_checks(raw: pd.DataFrame, typed: pd.DataFrame, client_ids: pd.Series | None) -> list[pd.DataFrame]:
    out = []
    for key in (CLIENT_KEY, COUNTERPARTY_KEY, "kind"):  # typed: the text stripped (and kind lower-cased)
        empty = raw[key].isna() | typed[key].eq("")
        out.append(_failure_rows(raw, key, "not empty", empty))
    kind = typed["kind"]
    out.append(_failure_rows(raw, "kind", "known kind", ~kind.isin(RELATION_KINDS) & raw["kind"].notna()))
    month = typed[MONTH_KEY]
    out.append(_failure_rows(raw, MONTH_KEY, "not null", raw[MONTH_KEY].isna()))
    out.append(_failure_rows(raw, MONTH_KEY, "first day of month",
                             month.notna() & ((month.dt.day != 1) | (month != month.dt.normalize()))))
    share, amount = typed["share"], typed["amount"]
    out.append(_failure_rows(raw, "share", "share in 0..1", share.notna() & ~share.between(0, 1)))
    out.append(_failure_rows(raw, "amount", "non-negative", amount.notna() & ~(amount >= 0) | np.isinf(amount)))
    out.append(_failure_rows(raw, "amount", "flow needs an amount", kind.isin(FLOW_KINDS) & amount.isna()
                             & raw["amount"].isna()))
    out.append(_failure_rows(raw, COUNTERPARTY_KEY, "linked to itself",
                             typed[CLIENT_KEY].eq(typed[COUNTERPARTY_KEY]) & raw[CLIENT_KEY].notna()))
    if client_ids is not None:
        known = pd.Index(client_ids.astype("str").unique())
        out.append(_failure_rows(raw, CLIENT_KEY, "client not in clients",
                                 raw[CLIENT_KEY].notna() & ~text_isin(typed[CLIENT_KEY], known)))
    return out


def _duplicates(rest: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    keys = [CLIENT_KEY, COUNTERPARTY_KEY, "kind", MONTH_KEY]
    return _duplicate_failures(rest, keys, [c.name for c in RELATION_COLUMNS])


def links_as_of(relations: pd.DataFrame, month: pd.Timestamp) -> pd.DataFrame:
    """The control and guarantee links that hold in `month`: each (client, counterparty, kind)'s
    latest row at or before `month` (a later row replaces an earlier one)."""
    sel = relations[relations["kind"].isin(LINK_KINDS).to_numpy() & (relations[MONTH_KEY] <= month).to_numpy()]
    sel = sel.sort_values(MONTH_KEY, kind="stable")
    return sel.drop_duplicates([CLIENT_KEY, COUNTERPARTY_KEY, "kind"], keep="last").reset_index(drop=True)


def flows_of(relations: pd.DataFrame, month: pd.Timestamp) -> pd.DataFrame:
    """The supplier and customer flows of `month`."""
    sel = relations["kind"].isin(FLOW_KINDS).to_numpy() & (relations[MONTH_KEY] == month).to_numpy()
    return relations[sel].reset_index(drop=True)
