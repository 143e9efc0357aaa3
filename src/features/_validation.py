"""Data contracts for the raw tables: pandera schemas built from `_contract.py`, row quarantine.

`validate_tables(clients, monthly)` returns a `ValidationReport`: the kept frames (typed as
the contract says) and every rejected row with its reasons. Rows in = rows kept + rows
rejected, for each table; nothing is dropped silently. Problems that make a table unusable
(a missing column, no usable row) raise `DataError` naming the file and column: whatever the
tables hold, the outcome is a report or that one-line error (a property test checks it).

Row rules, in order:

1. type: a value that is not a number / integer / true-false / date where the contract asks
   for one (the raw value is reported);
2. the pandera schema: not null where the contract says so, non-negative balances, amounts
   and counts, whole numbers (up to 2**53) for counts, months at midnight on the first day,
   known segment and gender codes, plausible birth year; branch, region and industry codes
   only against the lists the bank supplies (`reference_rules`);
3. duplicates: rows with the same key (`client_id`; `client_id` + `month`). When all copies
   are identical the first (lowest `_row`) is kept and the later copies are rejected; when
   they differ, every copy is rejected (there is no way to tell which one is right);
4. monthly rows whose client is not in `clients`, or whose client row was rejected;
5. monthly rows dated before the client's onboarding month, or after the month in which the
   relationship closed;
6. time sanity: monthly rows dated after the extract's end month (`ContractRules.end_month`,
   the declared end of the extract; by default this month), and clients onboarded after the
   latest month of the extract (the last month of a monthly row not rejected by rules 1-2 or
   the end month; `ContractRules.latest_month` gives it when the rows are validated in chunks).

A row is identified by `_row`, its 0-based position in the file as read.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc

from tierwise.features._contract import (
    CLIENT_COLUMNS,
    CLIENT_KEY,
    MONTH_KEY,
    MONTHLY_COLUMNS,
    RawColumn,
)
from tierwise.features._errors import DataError
from tierwise.features._files import make_folder
from tierwise.features._io import MONTH_DTYPE, ROW_ID, to_month_dtype, write_table

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pandera imports pyspark.pandas, which warns about pandas 3
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

REJECT_COLUMNS = ("reason", "column", "rule", "value")
_NON_NEGATIVE_EXCEPT = {"fee_income"}  # fees can be refunded
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}
_INT_LIMIT = 2.0**53  # larger magnitudes are not exact integers once read as float64


@dataclass(frozen=True)
class ContractRules:
    """Reference values the schemas check against (None: not checked).

    Segment and gender codes are part of the contract. Branch, region and industry codes are
    the bank's own: they are checked only against a list the bank supplies (see
    `reference_rules`); by default any code is kept.
    """

    segments: frozenset[str] | None = frozenset({"retail", "sme"})
    genders: frozenset[str] | None = frozenset({"F", "M"})
    branches: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    industries: frozenset[str] | None = None
    birth_year_range: tuple[int, int] = (1900, dt.date.today().year)
    end_month: dt.date | None = None  # the extract's declared end month; None: this month
    latest_month: dt.date | None = None  # the extract's latest month; None: from the rows validated

    def last_month(self) -> dt.date:
        """The extract's end month: `end_month`, or this month when none is declared."""
        return (self.end_month or dt.date.today()).replace(day=1)


def months_within_end(months: pd.Series, rules: ContractRules | None = None) -> pd.Series:
    """The months of a column (any date-like values; unparseable ones dropped) not after the
    extract's end month: the months the extract covers."""
    values = to_month_dtype(months).dropna()
    return values[values <= pd.Timestamp((rules or ContractRules()).last_month())]


REFERENCE_TABLES: dict[str, tuple[str, ...]] = {"branches": ("branch", "region"), "industries": ("industry",)}
_RULE_OF_COLUMN = {"branch": "branches", "region": "regions", "industry": "industries"}


def reference_rules(folder: str | Path, base: ContractRules | None = None) -> ContractRules:
    """`base` with the reference lists the bank supplies in its data folder, when it does:
    `branches` (.parquet or .csv; column `branch`, optionally `region`) and `industries`
    (column `industry`). A list that is absent stays unchecked (any code is kept)."""
    rules = base or ContractRules()
    found: dict[str, frozenset[str]] = {}
    for name, (key, *extra) in REFERENCE_TABLES.items():
        table = _read_reference(Path(folder), name, key)
        if table is None:
            continue
        for column in (key, *extra):
            codes = table[column].dropna().astype("str").str.strip() if column in table.columns else ()
            if len(codes) and (codes := frozenset(codes[codes.str.len() > 0])):  # an empty column: no list
                found[_RULE_OF_COLUMN[column]] = codes
    return replace(rules, **found)


def _read_reference(folder: Path, name: str, key: str) -> pd.DataFrame | None:
    for suffix in (".parquet", ".csv"):
        path = folder / f"{name}{suffix}"
        if not path.is_file():
            continue
        try:
            table = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path, dtype="str")
        except (OSError, ValueError, ImportError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"{path}: cannot be read: {first}") from None
        if key not in table.columns:
            raise DataError(f"{path}: missing column '{key}' (a reference list of {name} needs it)")
        if table[key].dropna().empty:
            raise DataError(f"{path}: no {key} codes (delete the file to accept any code)")
        return table
    return None


@dataclass(frozen=True)
class ValidationReport:
    """Kept rows (typed per contract, with `_row`) and rejected rows (as read, with reasons)."""

    clients: pd.DataFrame
    monthly: pd.DataFrame
    rejected_clients: pd.DataFrame
    rejected_monthly: pd.DataFrame
    failures: pd.DataFrame  # one row per (table, _row, column, rule, value)
    rows_in: dict[str, int] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> dict[str, int]:
        return {"clients": len(self.rejected_clients), "monthly": len(self.rejected_monthly)}

    @property
    def rows_kept(self) -> dict[str, int]:
        return {"clients": len(self.clients), "monthly": len(self.monthly)}

    def problems(self, examples: int = 3) -> pd.DataFrame:
        """One line per (table, column, rule): rows affected and example row ids."""
        if self.failures.empty:
            return pd.DataFrame(columns=["table", "column", "rule", "rows", "example_rows"])
        grouped = self.failures.sort_values(["table", ROW_ID]).groupby(["table", "column", "rule"], sort=True)
        out = grouped[ROW_ID].agg(
            rows="nunique", example_rows=lambda s: ", ".join(str(v) for v in s.unique()[:examples])
        ).reset_index()
        return out.sort_values(["table", "rows"], ascending=[True, False], ignore_index=True)


def build_schema(columns: tuple[RawColumn, ...], rules: ContractRules, *, name: str) -> pa.DataFrameSchema:
    """The pandera schema of a raw table, after type coercion (see `coerce_types`)."""
    checks: dict[str, pa.Column] = {}
    for col in columns:
        col_checks: list[pa.Check] = []
        if col.kind in ("float", "int") and col.name not in _NON_NEGATIVE_EXCEPT:
            col_checks.append(pa.Check.ge(0, error="non-negative"))
        if col.kind == "float":
            col_checks.append(pa.Check(lambda s: np.isfinite(s), element_wise=False, error="finite"))
        if col.kind == "month":
            col_checks.append(pa.Check(lambda s: (s.dt.day == 1) & (s == s.dt.normalize()), error="first day of month"))
        if col.kind == "str" and not col.nullable:
            col_checks.append(pa.Check(lambda s: s.str.strip().str.len() > 0, error="not empty"))
        if col.name == "segment" and rules.segments is not None:
            col_checks.append(pa.Check.isin(sorted(rules.segments), error="known segment"))
        if col.name == "gender" and rules.genders is not None:
            col_checks.append(pa.Check.isin(sorted(rules.genders), error="known gender"))
        if col.name == "branch" and rules.branches is not None:
            col_checks.append(pa.Check.isin(sorted(rules.branches), error="known branch code"))
        if col.name == "region" and rules.regions is not None:
            col_checks.append(pa.Check.isin(sorted(rules.regions), error="known region"))
        if col.name == "industry" and rules.industries is not None:
            col_checks.append(pa.Check.isin(sorted(rules.industries), error="known industry"))
        if col.name == "birth_year":
            lo, hi = rules.birth_year_range
            col_checks.append(pa.Check.in_range(lo, hi, error=f"year in {lo}-{hi}"))
        checks[col.name] = pa.Column(_pandera_dtype(col), checks=col_checks, nullable=col.nullable,
                                     coerce=False, required=True, name=col.name)
    return pa.DataFrameSchema(checks, name=name, strict=False, ordered=False)


def _pandera_dtype(col: RawColumn):
    return {"str": None, "int": "Int64", "float": "float64", "bool": "boolean", "month": MONTH_DTYPE}[col.kind]


def coerce_types(df: pd.DataFrame, columns: tuple[RawColumn, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cast each contract column to its kind; returns (typed frame, type failures).

    Values that cannot be cast become missing in the typed frame and are listed as failures
    with the raw value (missing values as read are left to the not-null rule).
    """
    out = df.copy(deep=False)  # copy-on-write: replacing a column of `out` leaves `df` as read
    failures: list[pd.DataFrame] = []
    for col in columns:
        raw = df[col.name]
        if col.kind == "str":
            out[col.name] = raw.astype("str")
            continue
        if col.kind == "month":
            typed = to_month_dtype(raw)
            bad = typed.isna() & raw.notna()
            rule = "not a date"
        elif col.kind in ("float", "int"):
            typed = _to_number(raw)
            bad = typed.isna() & raw.notna()
            rule = "not a number"
            if col.kind == "int":
                too_big = typed.notna() & ~(typed.abs() <= _INT_LIMIT)  # infinities too
                fractional = typed.notna() & ~too_big & (typed != np.floor(typed.fillna(0)))
                failures.append(_failure_rows(df, col.name, "integer out of range", too_big))
                failures.append(_failure_rows(df, col.name, "not an integer", fractional))
                typed = _to_int64(typed.where(~(fractional | too_big)))
            else:
                typed = typed.astype("float64")
        elif col.kind == "bool":
            typed = _to_bool(raw)
            bad = typed.isna() & raw.notna()
            rule = "not true/false"
        else:
            raise ValueError(f"unknown column kind {col.kind!r} for {col.name}")
        failures.append(_failure_rows(df, col.name, rule, bad))
        out[col.name] = typed
    return out, pd.concat(failures, ignore_index=True) if failures else _empty_failures()


def _to_int64(values: pd.Series) -> pd.Series:
    """Whole float64 values (NaN: missing) as `Int64`: `values.round().astype("Int64")` without
    its per-value checks (the values are already whole and within 2**53)."""
    data = values.to_numpy(dtype=np.float64)
    missing = np.isnan(data)
    whole = np.where(missing, 0.0, np.round(data)).astype(np.int64)
    return pd.Series(pd.arrays.IntegerArray(whole, missing), index=values.index, name=values.name)


def _to_number(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype("float64")
    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype("Float64").astype("float64") if isinstance(raw.dtype, pd.api.extensions.ExtensionDtype) else raw.astype("float64")
    return pd.to_numeric(raw.astype("str").str.strip(), errors="coerce").astype("float64")


def _to_bool(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype("boolean")
    text = raw.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    out[text.isin(_TRUE)] = True
    out[text.isin(_FALSE)] = False
    return out


def _failure_rows(df: pd.DataFrame, column: str, rule: str, mask: pd.Series) -> pd.DataFrame:
    mask = mask.fillna(False).to_numpy(dtype=bool)
    if not mask.any():  # most rules, most chunks: the empty frame below, without building it
        return _NO_FAILURE_ROWS.copy(deep=False)
    return pd.DataFrame({
        ROW_ID: df[ROW_ID].to_numpy()[mask],
        "column": column,
        "rule": rule,
        "value": df[column][mask].astype("str").fillna("<missing>").to_numpy(),
    })


_NO_FAILURE_ROWS = pd.DataFrame({ROW_ID: np.array([], dtype=np.int64), "column": pd.Series([], dtype="str"),
                                 "rule": pd.Series([], dtype="str"), "value": np.array([], dtype=object)})


def _empty_failures() -> pd.DataFrame:
    return pd.DataFrame({ROW_ID: pd.Series([], dtype="int64"), "column": pd.Series([], dtype="str"),
                         "rule": pd.Series([], dtype="str"), "value": pd.Series([], dtype="str")})


def schema_failures(typed: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Row-level failures of the pandera schema, as (_row, column, rule, value)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # pyspark.pandas on pandas 3, imported lazily
            schema.validate(typed, lazy=True, inplace=True)  # it only reads: no copy of the table
    except SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()]
        if cases.empty:
            return _empty_failures()
        idx = cases["index"].astype("int64").to_numpy()
        check = cases["check"].astype("str").str.replace(r"^not_nullable$", "not null", regex=True)
        return pd.DataFrame({
            ROW_ID: typed[ROW_ID].to_numpy()[idx],
            "column": cases["column"].astype("str").to_numpy(),
            "rule": check.to_numpy(),
            "value": cases["failure_case"].astype("str").fillna("<missing>").to_numpy(),
        })
    return _empty_failures()


def _key_groups(df: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """One int64 per row, equal for rows with equal `keys` (a missing value equals a missing
    value, as `DataFrame.duplicated` compares them): each key is factorized once (Arrow
    strings through pyarrow's hash kernel) and the codes are combined, renumbered only when
    their product would outgrow int64."""
    group = np.zeros(len(df), dtype=np.int64)
    size = 1  # group < size
    for key in keys:
        codes, uniques = pd.factorize(df[key], use_na_sentinel=False)
        width = max(len(uniques), 1)
        if size * width >= 2**62:
            codes_so_far, kept = pd.factorize(group)
            group, size = codes_so_far.astype(np.int64, copy=False), max(len(kept), 1)
        group = group * width + codes.astype(np.int64, copy=False)
        size *= width
    return group


def _shared(group: np.ndarray) -> np.ndarray:
    """Whether another row has the same number: a sort (no hash table of every row)."""
    ordered = np.sort(group)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(repeated) == 0:
        return np.zeros(len(group), dtype=bool)
    return np.isin(group, np.unique(repeated))


def _duplicate_failures(df: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    """Later identical copies, and every copy of conflicting duplicates.

    The rows that share a key are found on integer codes (`_key_groups`); only those rows go
    through the frame-level comparison of their values."""
    dup_any = _shared(_key_groups(df, keys))
    if not dup_any.any():
        return _empty_failures()
    sub = df.loc[dup_any, [ROW_ID, *columns]].sort_values(ROW_ID)
    distinct = sub.drop_duplicates(columns).groupby(keys, sort=False).size()
    conflicting = distinct[distinct > 1].index
    key_idx = sub.set_index(keys).index
    is_conflict = key_idx.isin(conflicting)
    later_copy = sub.duplicated(keys, keep="first").to_numpy()
    key_text = sub[keys].astype("str").agg(" ".join, axis=1).to_numpy()
    conflict = pd.DataFrame({ROW_ID: sub[ROW_ID].to_numpy()[is_conflict], "column": "+".join(keys),
                             "rule": "conflicting duplicate key", "value": key_text[is_conflict]})
    mask = later_copy & ~is_conflict
    copies = pd.DataFrame({ROW_ID: sub[ROW_ID].to_numpy()[mask], "column": "+".join(keys),
                           "rule": "duplicate row", "value": key_text[mask]})
    return pd.concat([conflict, copies], ignore_index=True)


def validate_tables(clients: pd.DataFrame, monthly: pd.DataFrame, *, rules: ContractRules | None = None,
                    sources: tuple[str, str] = ("clients", "monthly")) -> ValidationReport:
    """Quarantine bad rows of both raw tables; see the module docstring for the rules."""
    rules = rules or ContractRules()
    clients, monthly = _with_row_ids(clients, sources[0]), _with_row_ids(monthly, sources[1])
    for frame, cols, source in ((clients, CLIENT_COLUMNS, sources[0]), (monthly, MONTHLY_COLUMNS, sources[1])):
        missing = [c.name for c in cols if c.name not in frame.columns]
        if missing:
            raise DataError(f"{source}: missing column '{missing[0]}'")
        if len(frame) == 0:
            raise DataError(f"{source}: table is empty (no rows)")

    c_typed, c_type_fail = coerce_types(clients, CLIENT_COLUMNS)
    m_typed, m_type_fail = coerce_types(monthly, MONTHLY_COLUMNS)
    c_fail = [c_type_fail, _not_already(schema_failures(c_typed, build_schema(CLIENT_COLUMNS, rules, name="clients")), c_type_fail)]
    m_fail = [m_type_fail, _not_already(schema_failures(m_typed, build_schema(MONTHLY_COLUMNS, rules, name="monthly")), m_type_fail)]

    m_fail.append(_not_already(_after_end(m_typed, rules.last_month()), pd.concat(m_fail, ignore_index=True)))
    latest = rules.latest_month or _latest_month(m_typed[~m_typed[ROW_ID].isin(_rows(m_fail))])
    if latest is not None:
        late = c_typed["onboarding_month"] > pd.Timestamp(latest)
        c_fail.append(_failure_rows(c_typed, "onboarding_month",
                                    f"onboarded after the latest month of the extract ({latest:%Y-%m})", late))

    c_names = [c.name for c in CLIENT_COLUMNS]
    m_names = [c.name for c in MONTHLY_COLUMNS]
    c_bad = _rows(c_fail)
    c_fail.append(_duplicate_failures(c_typed[~c_typed[ROW_ID].isin(c_bad)], [CLIENT_KEY], c_names))
    c_bad = _rows(c_fail)
    c_kept = c_typed[~c_typed[ROW_ID].isin(c_bad)]

    m_bad = _rows(m_fail)
    m_fail.append(_duplicate_failures(m_typed[~m_typed[ROW_ID].isin(m_bad)], [CLIENT_KEY, MONTH_KEY], m_names))
    m_bad = _rows(m_fail)
    rest = m_typed[~m_typed[ROW_ID].isin(m_bad)]
    known = clients[CLIENT_KEY].astype("str")
    kept_ids = c_kept[CLIENT_KEY]
    orphan = ~text_isin(rest[CLIENT_KEY], kept_ids)
    in_file = text_isin(rest[CLIENT_KEY], known)
    m_fail.append(_failure_rows(rest, CLIENT_KEY, "client not in clients", orphan & ~in_file))
    m_fail.append(_failure_rows(rest, CLIENT_KEY, "client row rejected", orphan & in_file))
    rest = rest[~orphan]
    m_fail.append(_timeline_failures(rest, c_kept))
    m_bad = _rows(m_fail)
    m_kept = m_typed[~m_typed[ROW_ID].isin(m_bad)]

    failures = pd.concat(
        [f.assign(table=sources[0]) for f in c_fail if len(f)] + [f.assign(table=sources[1]) for f in m_fail if len(f)]
        or [_empty_failures().assign(table=pd.Series([], dtype="str"))],
        ignore_index=True,
    )
    report = ValidationReport(
        clients=_finish(c_kept, CLIENT_COLUMNS),
        monthly=_finish(m_kept, MONTHLY_COLUMNS).sort_values([CLIENT_KEY, MONTH_KEY], ignore_index=True),
        rejected_clients=_rejected(clients, failures[failures["table"] == sources[0]]),
        rejected_monthly=_rejected(monthly, failures[failures["table"] == sources[1]]),
        failures=failures.loc[:, ["table", ROW_ID, "column", "rule", "value"]],
        rows_in={"clients": len(clients), "monthly": len(monthly)},
    )
    for name, source in (("clients", sources[0]), ("monthly", sources[1])):
        assert report.rows_in[name] == report.rows_kept[name] + report.rows_rejected[name]
        if report.rows_kept[name] == 0:
            top = report.problems().query("table == @source").head(1)
            why = f"; most common problem: {top['column'].iat[0]}: {top['rule'].iat[0]}" if len(top) else ""
            raise DataError(f"{source}: no usable rows ({report.rows_in[name]} rejected){why}")
    return report


def text_isin(values: pd.Series, allowed: Iterable[object] | pd.Index | pd.Series) -> pd.Series:
    """`values.isin(allowed)` for a text column, through pyarrow's hash kernel (`pc.is_in`) on
    the column's Arrow array: pandas' Arrow-string `isin` turns each allowed value into a pyarrow
    scalar one by one (seconds for a chunk of 50,000 clients). The same answer as pandas: a
    missing value matches a missing value in `allowed`; values that are not text never match.
    A column that is not of the `str` dtype goes through pandas."""
    if not _is_text(values.dtype):
        return values.isin(allowed)
    array = pyarrow.array(values.array)
    if isinstance(allowed, (pd.Index, pd.Series)) and _is_text(allowed.dtype):
        value_set = pyarrow.array(allowed.array)
    else:
        value_set = pyarrow.array([v if isinstance(v, str) else None for v in allowed
                              if isinstance(v, str) or pd.isna(v)], pyarrow.string())
    if len(value_set) == 0:
        return pd.Series(False, index=values.index)
    found = pc.is_in(array, value_set=value_set.cast(array.type))
    return pd.Series(found.to_numpy(zero_copy_only=False), index=values.index, dtype=bool)


def _not_already(failures: pd.DataFrame, earlier: pd.DataFrame) -> pd.DataFrame:
    """Drop failures of a (row, column) already reported (a value that was not a number is not
    also reported as missing)."""
    if failures.empty or earlier.empty:
        return failures
    seen = pd.MultiIndex.from_frame(earlier[[ROW_ID, "column"]])
    here = pd.MultiIndex.from_frame(failures[[ROW_ID, "column"]])
    return failures[~here.isin(seen)].reset_index(drop=True)


def _after_end(monthly: pd.DataFrame, end: dt.date) -> pd.DataFrame:
    """Monthly rows dated after the extract's end month."""
    return _failure_rows(monthly, MONTH_KEY, f"after the extract's end month ({end:%Y-%m})",
                         monthly[MONTH_KEY] > pd.Timestamp(end))


def _latest_month(monthly: pd.DataFrame) -> dt.date | None:
    months = monthly[MONTH_KEY].dropna()
    return None if months.empty else months.max().date().replace(day=1)


def _timeline_failures(monthly: pd.DataFrame, clients: pd.DataFrame) -> pd.DataFrame:
    """Monthly rows before their client's onboarding month, or after the first month in which
    a row of the client says the relationship closed (`clients`: one row per client)."""
    if monthly.empty or clients.empty:
        return _empty_failures()
    month = monthly[MONTH_KEY].to_numpy(dtype=MONTH_DTYPE)
    at = _positions(monthly[CLIENT_KEY], clients[CLIENT_KEY])
    onboarding = clients["onboarding_month"].to_numpy(dtype=MONTH_DTYPE)[np.maximum(at, 0)]
    onboarding[at < 0] = np.datetime64("NaT")
    early = month < onboarding  # NaT on either side: False
    late = np.zeros(len(monthly), dtype=bool)
    closed = monthly["relationship_closed"].fillna(False).astype(bool).to_numpy() & ~np.isnat(month)
    if closed.any():
        client, _ = pd.factorize(monthly[CLIENT_KEY])  # a missing id: -1, never closed
        closed &= client >= 0
        never = np.iinfo(np.int64).max
        first_close = np.full(client.max() + 1, never, dtype=np.int64)
        np.minimum.at(first_close, client[closed], month.view(np.int64)[closed])
        close = np.where(client >= 0, first_close[np.maximum(client, 0)], never)
        late = (close != never) & (month.view(np.int64) > close)
    out = [_failure_rows(monthly, MONTH_KEY, "before onboarding_month", pd.Series(early)),
           _failure_rows(monthly, MONTH_KEY, "after the relationship closed", pd.Series(late & ~early))]
    return pd.concat(out, ignore_index=True)


def _positions(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """For each value, the position of the equal key in `keys` (unique), -1 when there is none;
    text through pyarrow's hash kernel (`pc.index_in`), as `text_isin`."""
    if _is_text(values.dtype) and _is_text(keys.dtype):
        found = pc.index_in(pyarrow.array(values.array), value_set=pyarrow.array(keys.array))
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return pd.Index(keys).get_indexer(values).astype(np.int64, copy=False)


def _is_text(dtype: object) -> bool:
    """The `str` dtype (Arrow-backed text), not `object`."""
    return pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype)


def _rows(parts: Iterable[pd.DataFrame]) -> np.ndarray:
    arrays = [p[ROW_ID].to_numpy() for p in parts if len(p)]
    return np.unique(np.concatenate(arrays)) if arrays else np.array([], dtype=np.int64)


def _with_row_ids(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """`_row` added (0..n-1), or kept when the caller numbered the rows (a chunk of a file)."""
    df = df.reset_index(drop=True)
    if ROW_ID not in df.columns:
        return df.assign(**{ROW_ID: np.arange(len(df), dtype=np.int64)})
    if not pd.api.types.is_integer_dtype(df[ROW_ID]) or df[ROW_ID].duplicated().any():
        raise DataError(f"{source}: column '{ROW_ID}' is reserved for row numbers (rename it in the extract)")
    return df


def _finish(df: pd.DataFrame, columns: tuple[RawColumn, ...]) -> pd.DataFrame:
    out = df.loc[:, [ROW_ID, *[c.name for c in columns]]].reset_index(drop=True)
    for col in columns:
        if col.kind == "bool" and not col.nullable:
            out[col.name] = out[col.name].astype(bool)
        elif col.kind == "int" and not col.nullable:
            out[col.name] = out[col.name].astype("int64")
    return out


def _rejected(raw: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    """The rejected rows as read, with their reasons (all of them, `; `-joined)."""
    if failures.empty:
        empty = raw.iloc[0:0].copy()
        for col in REJECT_COLUMNS:
            empty[col] = pd.Series([], dtype="str")
        return empty
    f = failures.sort_values([ROW_ID, "column"], kind="stable")
    f = f.assign(value=f["value"].fillna("<missing>"), column=f["column"].fillna(""), rule=f["rule"].fillna(""))
    text = f["column"] + ": " + f["rule"] + " (" + f["value"].str.slice(0, 60) + ")"
    per_row = pd.DataFrame({
        ROW_ID: f[ROW_ID].to_numpy(), "reason": text.to_numpy(), "column": f["column"].to_numpy(),
        "rule": f["rule"].to_numpy(), "value": f["value"].to_numpy(),
    }).groupby(ROW_ID, sort=True).agg(
        reason=("reason", "; ".join), column=("column", "first"), rule=("rule", "first"), value=("value", "first"))
    out = raw.merge(per_row, left_on=ROW_ID, right_index=True, how="inner")
    return out.sort_values(ROW_ID, ignore_index=True)


def write_rejects(report: ValidationReport, folder: str | Path) -> dict[str, Path]:
    """Write every rejected row with its reasons to `folder/clients.parquet` and `monthly.parquet`.

    Files from an earlier run are replaced; a table without rejected rows gets no file.
    """
    folder = make_folder(folder)
    written: dict[str, Path] = {}
    for name, frame, months in (("clients", report.rejected_clients, ("onboarding_month",)),
                                ("monthly", report.rejected_monthly, ("month",))):
        path = folder / f"{name}.parquet"
        if len(frame) == 0:
            path.unlink(missing_ok=True)
            continue
        written[name] = write_table(frame, path, month_columns=months)
    return written
