"""Vectorised sentences for the tier reasons: numbers formatted once per distinct value,
templates filled by Arrow string concatenation (a million rows in well under a second).

A template is a plain `str.format` string without format specs: `"{tier}: expected value
{ev}"`. Each field is either one string for every row or a function of the row positions
that returns an Arrow string array for exactly those rows (so a number is only formatted for
the rows whose sentence needs it). A `Labels` or `Figures` field also gives one row's text
(`row(i)`): a few rows (a served request, up to `FEW_ROWS`) are filled in Python, one string
per row, without Arrow arrays per field (`render_by_code`), in the same words.
"""

from __future__ import annotations

import functools
import math
import string
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tierwise.models import _numbers as numbers

Field = str | Callable[[np.ndarray], pa.Array]

STR_DTYPE = pd.StringDtype(storage="pyarrow", na_value=np.nan)
"""pandas 3's default `str` dtype, Arrow-backed: Arrow arrays wrap into it without copying."""


def template_fields(template: str) -> list[str]:
    """Field names used by `template`, in order; raises ValueError on a format spec."""
    names = []
    for _literal, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ValueError(f"field '{{{name}}}' must be a plain name (no format spec)")
        names.append(name)
    return names


def render(template: str, fields: Mapping[str, Field], rows: np.ndarray) -> pa.Array:
    """Fill `template` for the row positions `rows`."""
    parts: list[str | pa.Array] = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        if literal:
            parts.append(literal)
        if name is None:
            continue
        value = fields[name]
        parts.append(value if isinstance(value, str) else value(rows))
    merged: list[str | pa.Array] = []
    for part in parts:  # join neighbouring literals so Arrow concatenates fewer columns
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    if not any(isinstance(p, pa.Array) for p in merged):
        return repeat("".join(merged), len(rows))  # type: ignore[arg-type]
    if len(merged) == 1:
        return merged[0]  # type: ignore[return-value]
    if len(rows) == 1:  # a served client: join in Python (a missing part makes it missing, as in Arrow)
        texts = [p if isinstance(p, str) else p[0].as_py() for p in merged]
        return pa.array([None if None in texts else "".join(texts)], type=pa.string())
    return pc.binary_join_element_wise(*merged, "")


FEW_ROWS = 32
"""Up to this many rows, sentences are filled row by row in Python (`render_by_code`)."""


class Labels:
    """A field of codes: row i reads `labels[codes[i]]` (`take_labels`)."""

    def __init__(self, labels: Sequence[str], codes: np.ndarray) -> None:
        self.labels, self.codes = list(labels), codes

    def __call__(self, rows: np.ndarray) -> pa.Array:
        return take_labels(self.labels, self.codes[rows])

    def row(self, i: int) -> str:
        return self.labels[int(self.codes[i])]


class Figures:
    """A field of numbers: row i reads `label(key(values)[i])`, the key being the number as it
    is shown (so a batch formats each distinct key once, `_by_distinct`); the keys of a few
    rows are computed once, for all of them, when a row first needs one."""

    def __init__(self, values: np.ndarray, key: Callable[[np.ndarray], np.ndarray],
                 label: Callable[[float], str], key_one: Callable[[float], float] | None = None) -> None:
        self.values, self.key, self.label, self.key_one = values, key, label, key_one
        self._keys: list[float] | None = None

    def __call__(self, rows: np.ndarray) -> pa.Array:
        return _by_distinct(self.key(self.values[rows]), self.label)

    def row(self, i: int) -> str:
        """Row i's text; `key_one` (the key of one float, the same bits) saves the arrays."""
        if self.key_one is not None:
            return self.label(self.key_one(float(self.values[i])))
        if self._keys is None:
            self._keys = np.asarray(self.key(self.values), dtype=np.float64).tolist()
        return self.label(self._keys[i])


@functools.lru_cache(maxsize=1024)
def _parts(template: str) -> tuple[tuple[str, str | None], ...]:
    """(literal, field name or None) of `template`, as `render` reads it."""
    return tuple((literal, name) for literal, name, _spec, _conv in string.Formatter().parse(template))


def render_rows(codes: np.ndarray, templates: Mapping[int, str], fields: Mapping[str, Field]) -> list[str]:
    """`render_by_code` as Python strings, row by row (every field text or a `Labels` /
    `Figures`): what a few rows cost without an Arrow array per field."""
    out = []
    for i, code in enumerate(codes.tolist()):
        pieces = []
        for literal, name in _parts(templates[code]):
            pieces.append(literal)
            if name is not None:
                value = fields[name]
                pieces.append(value if isinstance(value, str) else value.row(i))
        out.append("".join(pieces))
    return out


def render_by_code(
    codes: np.ndarray, templates: Mapping[int, str], fields: Mapping[str, Field]
) -> pa.Array:
    """Row i gets `templates[codes[i]]` filled for row i; one Arrow pass per distinct code (a
    few rows: `render_rows`, one Arrow array in all)."""
    n = len(codes)
    if n == 0:
        return pa.array([], type=pa.string())
    if n <= FEW_ROWS and all(isinstance(f, str) or hasattr(f, "row") for f in fields.values()):
        return pa.array(render_rows(codes, templates, fields), type=pa.string())
    first = codes[0]
    if (codes == first).all():  # one template for all (always so for a single client)
        return _as_string(render(templates[int(first)], fields, np.arange(n)))
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    present = np.unique(sorted_codes)
    starts = np.searchsorted(sorted_codes, present, side="left")
    ends = np.searchsorted(sorted_codes, present, side="right")
    pieces = [
        render(templates[int(code)], fields, order[start:end])
        for code, start, end in zip(present, starts, ends, strict=True)
    ]
    joined = pa.concat_arrays([_as_string(p) for p in pieces])
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    return joined.take(pa.array(inverse))


def _as_string(values: pa.Array) -> pa.Array:
    return values if values.type == pa.string() else values.cast(pa.string())


def join(parts: Sequence[pa.Array], separator: str) -> pa.Array:
    """Element-wise `separator.join` of equally long string arrays."""
    return pc.binary_join_element_wise(*parts, separator)


def repeat(text: str, n: int) -> pa.Array:
    return pa.array([text], type=pa.string()).take(pa.array(np.zeros(n, dtype=np.int64)))


def take_labels(labels: Sequence[str], codes: np.ndarray) -> pa.Array:
    """`labels[codes[i]]` for every i."""
    if len(codes) <= FEW_ROWS:  # a served request
        return pa.array([labels[c] for c in codes.tolist()], type=pa.string())
    return pa.array(list(labels), type=pa.string()).take(pa.array(codes.astype(np.int64)))


def codes_of(values: pd.Series | np.ndarray, categories: Sequence[str]) -> np.ndarray:
    """Position of each value in `categories`; -1 for missing values and any other value."""
    if len(values) <= 8:  # a served request: no Arrow round trip for a few values
        names = list(categories)
        items = values.tolist() if isinstance(values, np.ndarray) else values.to_numpy(dtype=object).tolist()
        texts = [None if pd.isna(v) else str(v) for v in items]
        return np.array([names.index(t) if t in names else -1 for t in texts], dtype=np.int8)
    if isinstance(values, np.ndarray):
        values = pd.Series(values, dtype=object)
    strings = pa.array(values.astype(STR_DTYPE), type=pa.string(), from_pandas=True)
    found = pc.index_in(strings, value_set=pa.array(list(categories), type=pa.string()))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int8)


def to_array(values: pa.Array) -> pd.api.extensions.ExtensionArray:
    """`values` as a pandas `str` array."""
    return pd.array(_as_string(values), dtype=STR_DTYPE)


def _by_distinct(values: np.ndarray, label: Callable[[float], str]) -> pa.Array:
    """Format each distinct value once, then gather."""
    if len(values) == 1:  # a served client
        return pa.array([label(float(values[0]))], type=pa.string())
    inverse, distinct = pd.factorize(np.asarray(values, dtype=float), use_na_sentinel=False)
    labels = pa.array([label(float(v)) for v in distinct], type=pa.string())
    return labels.take(pa.array(inverse.astype(np.int64)))


def money_label(value: float, currency: str, lang: str = "en") -> str:
    """An amount as every page writes it (`models._numbers.format_money`): "¥28,600",
    "¥1.38 million" / "¥2.86万"; NaN: "n/a"."""
    return "n/a" if math.isnan(value) else numbers.format_money(value, lang, currency)


def format_money(values: np.ndarray, currency: str, lang: str = "en") -> pa.Array:
    """Amounts to three significant digits with the language's large-number words."""
    return money_field(values, currency, lang)(np.arange(len(values)))


def money_field(values: np.ndarray, currency: str, lang: str = "en") -> Figures:
    """`format_money` of `values` as a template field."""
    return Figures(values, numbers.money_key, functools.partial(_money_label, currency=currency, lang=lang),
                   numbers.round_significant_one)


def _money_label(value: float, *, currency: str, lang: str) -> str:
    return money_label(value, currency, lang)


def percent_label(value: float) -> str:
    """A probability as every page writes it (`models._numbers.format_probability`): 0.0047 ->
    `0.47%`, 0.0207 -> `2.1%`; NaN: "n/a"."""
    return "n/a" if math.isnan(value) else numbers.format_probability(value)


def percent_key(values: np.ndarray) -> np.ndarray:
    """Probabilities rounded as they are shown (`numbers.probability_key`, as a probability)."""
    return numbers.probability_key(values) / 100.0


def format_percent(values: np.ndarray) -> pa.Array:
    # distinct labels only: the probabilities rounded as they are shown
    return _by_distinct(percent_key(values), percent_label)


def percent_field(values: np.ndarray) -> Figures:
    """`format_percent` of `values` as a template field."""
    return Figures(values, percent_key, percent_label, _percent_key_one)


def _percent_key_one(p: float) -> float:
    return numbers.probability_key_one(p) / 100.0


def share_label(share: float) -> str:
    """A share of a population: 0.01 -> `1%`, 0.005 -> `0.5%`."""
    return numbers.format_share(share)


def growth_key(log_growth: np.ndarray) -> np.ndarray:
    """Log growth rounded as it is shown (a whole percentage of change)."""
    return np.log1p(np.round(np.expm1(np.asarray(log_growth, dtype=float)) * 100) / 100)


def format_growth(log_growth: np.ndarray) -> pa.Array:
    """Log growth as a signed whole percentage change: 0.3 -> `+35%`."""
    return _by_distinct(growth_key(log_growth), numbers.format_change)


def growth_field(log_growth: np.ndarray) -> Figures:
    """`format_growth` of `log_growth` as a template field."""
    return Figures(log_growth, growth_key, numbers.format_change)
