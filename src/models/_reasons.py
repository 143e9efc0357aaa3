"""Reason codes: per client and model, the top k feature families behind the score, in words.

`reason_codes(contrib, X, families, catalogues, model=..., k=3)` takes the SHAP values of a
batch (`models.treeshap.tree_shap` layout: one column per feature, the expected value last),
sums them per feature family (so `deposit_total_chg_3m/_6m/_12m` read as one reason), ranks
the families with numpy `argpartition`, and phrases only the top k, filling the catalogue's
templates with the client's own values ("Deposits fell 42% in the last 3 months" /
"近3个月存款下降42%"). Texts are formatted once per distinct displayed value, not per row, so
a million rows take seconds.

Output columns, for model m and rank r = 1..k (nulls when fewer than r families push that way):
- `reason_{m}_{r}_family`, `reason_{m}_{r}_en`, `reason_{m}_{r}_zh`, `reason_{m}_{r}_shap`:
  direction "balanced" (the default, what the recommender and `explain` use): per client, the
  families that move the score away from the base value, i.e. for a score above it those that
  raise it and for a score below it those that keep it low (negative SHAP); "up": always those
  that raise it;
- `protect_{m}_{r}_...`: the strongest protective families (direction "down" or "both").

Every text says its direction ("raises churn likelihood: 3 complaints in the last 3 months" /
"降低流失可能性：..."), by the catalogue's `reason_format`; `_shap` is signed. Never a reason:
an unknown value (missing or an `unknown_values` label) unless the template has its own
`missing` phrase, a value under a template's `min_value` without a `below` phrase, a family
whose |SHAP| is under the catalogues' `min_shap`, or a sentence already listed for the model.

Protected attributes and personal data never appear: their features are left out of the
ranking whatever the model uses (see `models._reason_catalogue`).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from tierwise.features import ConfigError, DataError
from tierwise.models import _numbers as num
from tierwise.models._reason_catalogue import (
    ReasonCatalogue,
    Template,
    check_catalogue_coverage,
    merged_families,
)

logger = logging.getLogger(__name__)

Direction = Literal["balanced", "up", "down", "both"]
PREFIX = {"balanced": "reason", "up": "reason", "down": "protect"}


def shap_values(booster, X: pd.DataFrame, *, n_threads: int | None = None) -> np.ndarray:  # noqa: ANN001
    """SHAP values of `booster` on `X` (features + expected value last): the project's kernel."""
    from tierwise.models.treeshap import tree_shap

    return tree_shap(booster, X, n_threads=n_threads)


def family_matrix(features: list[str], families: Mapping[str, str], excluded: set[str]
                  ) -> tuple[list[str], np.ndarray]:
    """Family names and the (features x families) 0/1 matrix that sums contributions by family
    (protected features left out)."""
    names: list[str] = []
    index: dict[str, int] = {}
    columns = np.full(len(features), -1, dtype=np.int64)
    for j, feature in enumerate(features):
        family = families.get(feature, feature)
        if feature in excluded or family in excluded:
            continue
        if family not in index:
            index[family] = len(names)
            names.append(family)
        columns[j] = index[family]
    aggregate = np.zeros((len(features), len(names)), dtype=np.float64)
    used = columns >= 0
    aggregate[np.flatnonzero(used), columns[used]] = 1.0
    return names, aggregate


def family_contributions(contrib: np.ndarray, features: list[str], families: Mapping[str, str],
                         excluded: set[str]) -> tuple[list[str], np.ndarray]:
    """Family names and the (rows x families) sums of `contrib` (protected features left out)."""
    names, aggregate = family_matrix(features, families, excluded)
    return names, contrib @ aggregate


@dataclass(frozen=True)
class ReasonPlan:
    """What `reason_codes` works out from the feature list alone, once: the family names and
    the matrix that sums contributions by family, and per (language, family) the features
    whose template may phrase it, with their column positions."""

    features: tuple[str, ...]
    names: list[str]
    aggregate: np.ndarray
    candidates: Mapping[tuple[str, str], tuple[tuple[str, ...], list[int]]]
    conditions: Mapping[int, tuple[str, tuple[str, ...] | None, float | None]]


def reason_plan(features: Sequence[str], families: Mapping[str, str],
                catalogues: Mapping[str, ReasonCatalogue]) -> ReasonPlan:
    """Check that the catalogues cover `features` (`ConfigError` otherwise) and plan the
    phrasing (see `ReasonPlan`)."""
    features = [str(f) for f in features]
    check_catalogue_coverage(features, families, catalogues)
    families = merged_families(families, features, catalogues)
    excluded = {f for f in features for cat in catalogues.values()
                if cat.is_protected(f) or cat.is_protected(families.get(f, f))}
    names, aggregate = family_matrix(features, families, excluded)
    position = {f: j for j, f in enumerate(features)}
    candidates = {}
    for lang, catalogue in catalogues.items():
        for family in names:
            chosen = tuple(f for f in catalogue.families[family]
                           if f in position and families.get(f, f) == family)
            candidates[(lang, family)] = chosen, [position[f] for f in chosen]
    return ReasonPlan(tuple(features), names, aggregate, candidates, _conditions(candidates, catalogues))


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the column indices of the k largest scores (descending) and their values."""
    n, m = scores.shape
    k = min(k, m)
    if k == 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0))
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if m > k else np.tile(np.arange(m), (n, 1))
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)


def reason_codes(contrib: np.ndarray, X: pd.DataFrame, families: Mapping[str, str],
                 catalogues: Mapping[str, ReasonCatalogue], *, model: str, k: int = 3,
                 direction: Direction = "balanced") -> pd.DataFrame:
    """The top-k reason families per row of `X` for `model`, phrased in every catalogue's language.

    `contrib` is (rows x features) or (rows x features + 1, the expected value last) in the
    column order of `X`; `families` maps a feature to its family (unlisted: its own family).
    Raises `ConfigError` when a catalogue misses a family, `DataError` on a shape mismatch.
    """
    features = [str(c) for c in X.columns]
    _check_shapes(contrib, len(X), len(features), k)
    return phrase_reasons(reason_plan(features, families, catalogues), contrib, X, catalogues,
                          model=model, k=k, direction=direction)


def _check_shapes(contrib: np.ndarray, n_rows: int, n_features: int, k: int) -> None:
    if contrib.ndim != 2 or contrib.shape[0] != n_rows or contrib.shape[1] not in (n_features, n_features + 1):
        raise DataError(f"reason codes: SHAP values of shape {contrib.shape} do not match {n_rows} rows x "
                        f"{n_features} features (+1 expected value)")
    if k < 1:
        raise DataError(f"reason codes: k must be at least 1, got {k}")


def phrase_reasons(plan: ReasonPlan, contrib: np.ndarray, X: pd.DataFrame,
                   catalogues: Mapping[str, ReasonCatalogue], *, model: str, k: int = 3,
                   direction: Direction = "balanced") -> pd.DataFrame:
    """`reason_codes` with the feature list already planned (`reason_plan` of `X.columns`)."""
    return reason_frame(reason_arrays(plan, contrib, X, catalogues, model=model, k=k, direction=direction),
                        X.index)


def reason_frame(columns: Mapping[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
    """The frame of `reason_arrays` columns: texts and families as `str`, SHAP as float."""
    return pd.DataFrame({c: pd.array(v, dtype="str") if v.dtype == object else v for c, v in columns.items()},
                        index=index)


def _ways(direction: Direction) -> tuple[str, ...]:
    return ("up", "down") if direction == "both" else (direction,)


def _signs(way: str, contrib: np.ndarray) -> np.ndarray:
    """Per row, +1 to rank the contributions that raise the score, -1 those that lower it:
    "balanced" takes the side the score sits on against the base value (the sum of the
    contributions), so a low score is explained by what keeps it low."""
    n = contrib.shape[0]
    if way == "balanced":
        return np.where(contrib.sum(axis=1) >= 0, 1.0, -1.0)
    return np.full(n, 1.0 if way == "up" else -1.0)


def phrasable(plan: ReasonPlan, X: pd.DataFrame, catalogues: Mapping[str, ReasonCatalogue],
              only: np.ndarray | None = None) -> dict[int, np.ndarray]:
    """Per feature position with a condition, the rows whose value can be a reason: never an
    unknown value (missing, or a catalogue `unknown_values` label) unless the template has a
    `missing` phrase of its own ("less than 3 months of history"), never a value below the
    template's `min_value` unless it has a `below` phrase. Features without a condition are
    left out (every row can be phrased). `only` (booleans per feature position): check only
    those positions (the others are left out too)."""
    out: dict[int, np.ndarray] = {}
    for col, (feature, unknown, floor) in plan.conditions.items():
        if only is not None and not only[col]:
            continue
        values = X[feature]
        if X.shape[0] == 1 and isinstance(values, np.ndarray) and values.dtype.kind == "f":
            v = float(values[0])  # a served client's number: the same tests on one float
            out[col] = _TRUE if not ((unknown is not None and not math.isfinite(v))
                                     or (floor is not None and v < floor)) else _FALSE
            continue
        ok = np.ones(X.shape[0], dtype=bool)
        if unknown is not None:
            ok &= ~_unknown(values, unknown)
        if floor is not None:
            with np.errstate(invalid="ignore"):
                ok &= ~(_as_numbers(values) < floor)
        out[col] = ok
    return out


_TRUE, _FALSE = np.ones(1, dtype=bool), np.zeros(1, dtype=bool)


def _conditions(candidates: Mapping[tuple[str, str], tuple[tuple[str, ...], list[int]]],
                catalogues: Mapping[str, ReasonCatalogue]) -> dict[int, tuple[str, tuple[str, ...] | None, float | None]]:
    """Per feature position: (feature, the labels read as unknown when an unknown value is no
    reason, else None; the `min_value` below which it is no reason, else None), over every
    language (a value that one language cannot phrase is no reason in any)."""
    out: dict[int, tuple[str, tuple[str, ...] | None, float | None]] = {}
    for (lang, family), (features, cols) in candidates.items():
        catalogue = catalogues[lang]
        for feature, col in zip(features, cols, strict=True):
            template = catalogue.families[family][feature]
            unknown = tuple(catalogue.unknown_values) if template.missing is None else None
            floor = template.min_value if template.min_value is not None and template.below is None else None
            if unknown is None and floor is None:
                continue
            _, had_unknown, had_floor = out.get(col, (feature, None, None))
            if had_unknown is not None:
                unknown = tuple(dict.fromkeys((*had_unknown, *(unknown or ()))))
            floor = max(f for f in (floor, had_floor) if f is not None) if floor is not None or had_floor is not None else None
            out[col] = (feature, unknown, floor)
    return out


@functools.lru_cache(maxsize=64)
def _unknown_set(labels: tuple[str, ...]) -> frozenset[str]:
    return frozenset(label.strip().lower() for label in labels)


def _unknown(values: object, labels: Sequence[str]) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        return ~np.isfinite(values.astype(np.float64))
    unknown = _unknown_set(tuple(labels))
    if len(values) <= 8:  # a served request: no factorize for a few labels
        return np.array([pd.isna(v) or str(v).strip().lower() in unknown for v in values.tolist()], dtype=bool)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)  # each distinct label checked once
    bad = np.array([str(u).strip().lower() in unknown for u in uniques] + [True], dtype=bool)
    return bad[np.where(codes < 0, len(uniques), codes)]


def min_contribution(catalogues: Mapping[str, ReasonCatalogue]) -> float:
    """The smallest |SHAP| of a family that is a reason (the catalogues' `min_shap`, which
    every language must set alike)."""
    values = {cat.min_shap for cat in catalogues.values()}
    if len(values) > 1:
        raise ConfigError("reason catalogues disagree on `min_shap`: " +
                          ", ".join(f"{lang}: {cat.min_shap}" for lang, cat in catalogues.items()))
    return values.pop() if values else 0.0


def reason_arrays(plan: ReasonPlan, contrib: np.ndarray, X: pd.DataFrame,
                  catalogues: Mapping[str, ReasonCatalogue], *, model: str, k: int = 3,
                  direction: Direction = "balanced") -> dict[str, np.ndarray]:
    """`phrase_reasons`' columns, in order, as numpy arrays: object arrays of text (None where
    there is no reason) and float SHAP sums (NaN there), signed as the family pushes the score;
    no pandas work per column, which is what a single served client pays for. `X` is the model
    inputs' frame, or anything with its `shape` and `X[feature]` (`models._train.MatrixColumns`:
    only the features phrased are decoded).

    A family is a reason when its contribution (unknown or below-threshold values left out,
    see `phrasable`) is at least the catalogues' `min_shap` in the direction ranked; the same
    sentence is never listed twice (the later one is dropped and the rest move up)."""
    contrib = np.asarray(contrib[:, :len(plan.features)], dtype=np.float64)
    n = X.shape[0]
    floor = min_contribution(catalogues)
    if n <= FEW_ROWS and np.isfinite(contrib).all():
        return _reason_rows(plan, contrib, X, catalogues, model=model, k=k, direction=direction, floor=floor)
    # a feature contributing nothing to any row is no reason either way: no need to check it
    ok = phrasable(plan, X, catalogues, only=(contrib != 0.0).any(axis=0))
    shown = contrib
    if ok:
        shown = contrib.copy()
        for col, rows_ok in ok.items():
            shown[~rows_ok, col] = 0.0
    names, by_family = plan.names, shown @ plan.aggregate
    values: dict[str, np.ndarray] = {}
    out: dict[str, np.ndarray] = {}
    langs = list(catalogues)
    for way in _ways(direction):
        signs = _signs(way, contrib)
        idx, val = top_k(signs[:, None] * by_family, k)
        texts = {(r, lang): np.full(n, None, dtype=object) for r in range(k) for lang in langs}
        families = [np.full(n, None, dtype=object) for _ in range(k)]
        shaps = [np.full(n, np.nan) for _ in range(k)]
        # (lang, family, feature, effect sign) -> [(rank, rows)]: each feature is phrased once for all ranks
        jobs: dict[tuple[str, str, str, bool], list[tuple[int, np.ndarray]]] = {}
        for r in range(min(k, idx.shape[1])):
            for family, rows in _family_groups(idx[:, r], val[:, r] >= max(floor, 1e-12), names):
                families[r][rows] = family
                shaps[r][rows] = signs[rows] * val[rows, r]
                chosen: dict[tuple[str, ...], np.ndarray] = {}
                for lang in langs:
                    candidates, cols = plan.candidates[(lang, family)]
                    if candidates not in chosen:
                        chosen[candidates] = (np.argmax(signs[rows, None] * shown[np.ix_(rows, cols)], axis=1)
                                              if len(cols) > 1 else np.zeros(rows.size, dtype=np.int64))
                    best = chosen[candidates]
                    raises = signs[rows] > 0
                    # only the candidates some row picked (a served row picks one of a family's many)
                    for c in (best[:1] if rows.size == 1 else np.unique(best)).tolist():
                        at = best == c
                        for up in (True, False):
                            pick = rows[at & (raises == up)]
                            if pick.size:
                                jobs.setdefault((lang, family, candidates[c], up), []).append((r, pick))
        for (lang, family, feature, up), parts in jobs.items():
            catalogue = catalogues[lang]
            picks = np.concatenate([p for _, p in parts])
            if feature not in values:
                values[feature] = np.asarray(X[feature])
            words = render(catalogue.families[family][feature], values[feature][picks], lang,
                           effect=catalogue.effect(model, "up" if up else "down"),
                           missing_value=catalogue.missing_value, reason_format=catalogue.reason_format,
                           currency=catalogue.currency)
            start = 0
            for r, pick in parts:
                texts[(r, lang)][pick] = words[start:start + pick.size]
                start += pick.size
        _drop_repeats(families, shaps, texts, langs, k)
        for r in range(k):
            prefix = f"{PREFIX[way]}_{model}_{r + 1}"
            out[f"{prefix}_family"] = families[r]
            for lang in langs:
                out[f"{prefix}_{lang}"] = texts[(r, lang)]
            out[f"{prefix}_shap"] = shaps[r]
    order_cols = [f"{PREFIX[w]}_{model}_{r + 1}_{part}" for w in _ways(direction)
                  for r in range(k) for part in ("family", *langs, "shap")]
    return {c: out[c] for c in order_cols}


FEW_ROWS = 32
"""Up to this many rows (a served request, the lean server's joined requests) `reason_arrays`
works row by row in Python (`_reason_rows`): numpy's calls cost more than their work there."""


def _reason_rows(plan: ReasonPlan, contrib: np.ndarray, X: pd.DataFrame,
                 catalogues: Mapping[str, ReasonCatalogue], *, model: str, k: int, direction: Direction,
                 floor: float) -> dict[str, np.ndarray]:
    """`reason_arrays` for a few rows of finite contributions, row by row: the same family sums
    (one matrix product for all rows, as there), ranking, picks and words (`render_one`); a row
    whose ranking has a tie among the reasons falls back to `top_k` for that row, which breaks
    it as the batch does."""
    n = contrib.shape[0]
    value = _row_values(X)
    shown = _phrasable_rows(plan, contrib, X, value)
    by_family = (shown @ plan.aggregate).tolist()
    shown_rows = shown.tolist()
    totals = contrib.sum(axis=1).tolist()
    names, langs, threshold = plan.names, list(catalogues), max(floor, 1e-12)
    effects = {(lang, up): catalogues[lang].effect(model, "up" if up else "down") for lang in langs for up in (True, False)}
    out: dict[str, np.ndarray] = {}
    for way in _ways(direction):
        # per row: [(family, shap, {lang: text})] by rank, repeats dropped
        cards: list[list[tuple[str, float, dict[str, str]]]] = []
        for i in range(n):
            sign = (1.0 if totals[i] >= 0 else -1.0) if way == "balanced" else (1.0 if way == "up" else -1.0)
            ranked = _ranked(by_family[i], sign, k, threshold)
            card = []
            for j, strength in ranked:
                family = names[j]
                texts: dict[str, str] = {}
                for lang in langs:
                    candidates, cols = plan.candidates[(lang, family)]
                    best = 0
                    if len(cols) > 1:
                        row = shown_rows[i]
                        pushes = [sign * row[c] for c in cols]
                        best = pushes.index(max(pushes))
                    feature = candidates[best]
                    catalogue = catalogues[lang]
                    texts[lang] = render_one(catalogue.families[family][feature], value(i, feature), lang,
                                             effect=effects[(lang, sign > 0)], missing_value=catalogue.missing_value,
                                             reason_format=catalogue.reason_format, currency=catalogue.currency)
                if not any(texts[lang] == seen[2][lang] for seen in card for lang in langs):
                    card.append((family, sign * strength, texts))
            cards.append(card)
        for r in range(k):
            prefix = f"{PREFIX[way]}_{model}_{r + 1}"
            at = [card[r] if r < len(card) else None for card in cards]
            out[f"{prefix}_family"] = _objects([None if a is None else a[0] for a in at])
            for lang in langs:
                out[f"{prefix}_{lang}"] = _objects([None if a is None else a[2][lang] for a in at])
            out[f"{prefix}_shap"] = np.array([math.nan if a is None else a[1] for a in at], dtype=np.float64)
    return out


def _row_values(X: pd.DataFrame):  # noqa: ANN202
    """`(row, feature) -> value` of `X` as Python values: numbers of a `MatrixColumns` read from
    its matrix rows (what `X[feature]` holds), anything else decoded once per feature."""
    columns: dict[str, list] = {}
    matrix = getattr(X, "matrix", None)
    if matrix is not None:  # models._train.MatrixColumns
        rows, position, categories = matrix.tolist(), X._position, X.categories
    else:
        rows, position, categories = None, {}, {}

    def value(i: int, feature: str) -> object:
        if rows is not None:
            v = rows[i][position[feature]]
            if feature not in categories:
                return v
            return v if v != v else _labels(tuple(categories[feature]))[int(v)]  # a code; NaN: missing
        if feature not in columns:
            columns[feature] = np.asarray(X[feature]).tolist()
        return columns[feature][i]

    return value


@functools.lru_cache(maxsize=256)
def _labels(categories: tuple) -> list:
    """A fixed category list's labels as `MatrixColumns` decodes them (its dtype's categories)."""
    from tierwise.models._train import _category_dtype

    return np.asarray(_category_dtype(categories).categories, dtype=object).tolist()


def _phrasable_rows(plan: ReasonPlan, contrib: np.ndarray, X: pd.DataFrame, value) -> np.ndarray:  # noqa: ANN001
    """`contrib` with the values that cannot be a reason (`phrasable`) set to 0: the numbers of
    a `MatrixColumns` tested on its matrix at once (the same tests), anything else value by
    value."""
    shown = contrib
    cols, unknown_checked, floors = _condition_arrays(plan)
    matrix = getattr(X, "matrix", None)
    rest = cols
    if matrix is not None and cols.size:
        numeric = np.array([plan.features[c] not in X.categories for c in cols.tolist()], dtype=bool)
        at = cols[numeric]
        values = matrix[:, at]
        with np.errstate(invalid="ignore"):
            bad = (contrib[:, at] != 0.0) & ((unknown_checked[numeric] & ~np.isfinite(values)) | (values < floors[numeric]))
        if bad.any():
            shown = contrib.copy()
            shown[:, at] = np.where(bad, 0.0, contrib[:, at])
        rest = cols[~numeric]
    conditions = plan.conditions
    for i, j in zip(*np.nonzero(contrib[:, rest] != 0.0), strict=True):
        col = int(rest[j])
        feature, unknown, floor = conditions[col]
        v = value(int(i), feature)
        if type(v) is float:  # a number: the same tests as `phrasable`, inline
            ok = not ((unknown is not None and not math.isfinite(v)) or (floor is not None and v < floor))
        else:
            ok = _phrasable_one(v, unknown, floor)
        if not ok:
            if shown is contrib:
                shown = contrib.copy()
            shown[i, col] = 0.0
    return shown


_CONDITIONS: dict[int, tuple[ReasonPlan, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}


def _condition_arrays(plan: ReasonPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`plan.conditions` as arrays (once per plan): the feature positions with a condition,
    whether an unknown value is no reason there, and the floor (-inf: none)."""
    held = _CONDITIONS.get(id(plan))
    if held is None or held[0] is not plan:
        cols = sorted(plan.conditions)
        arrays = (np.array(cols, dtype=np.int64),
                  np.array([plan.conditions[c][1] is not None for c in cols], dtype=bool),
                  np.array([-np.inf if plan.conditions[c][2] is None else plan.conditions[c][2] for c in cols],
                           dtype=np.float64))
        if len(_CONDITIONS) > 64:
            _CONDITIONS.clear()
        held = _CONDITIONS[id(plan)] = (plan, arrays)
    return held[1]


def _phrasable_one(value: object, unknown: tuple[str, ...] | None, floor: float | None) -> bool:
    """`phrasable` of one value."""
    if isinstance(value, (int, float)):
        v = float(value)
        return not ((unknown is not None and not math.isfinite(v)) or (floor is not None and v < floor))
    one = np.array([value], dtype=object)
    return not ((unknown is not None and bool(_unknown(one, unknown)[0]))
                or (floor is not None and bool(_as_numbers(one)[0] < floor)))


def _ranked(scores: list[float], sign: float, k: int, threshold: float) -> list[tuple[int, float]]:
    """(family position, signed sum) of the top k families at least `threshold`, strongest
    first: `top_k` of one row without arrays; a tie among them is broken by `top_k` itself."""
    signed = [sign * v for v in scores]
    order = sorted(range(len(signed)), key=signed.__getitem__, reverse=True)[:k + 1]
    top = [signed[j] for j in order]
    if any(top[r] == top[r + 1] and top[r] >= threshold for r in range(len(top) - 1)):
        idx, val = top_k(np.array([signed]), k)
        order, top = idx[0].tolist(), val[0].tolist()
    return [(j, v) for j, v in zip(order[:k], top[:k], strict=False) if v >= threshold]


_ONE_ROW = np.zeros(1, dtype=np.int64)


def _family_groups(fam: np.ndarray, taken: np.ndarray, names: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    """(family name, its rows) for the rows `taken`, by family code `fam`, in code order."""
    if len(fam) == 1:  # a served client: no sort for one row
        return [(names[int(fam[0])], _ONE_ROW)] if taken[0] else []
    rows_all = np.flatnonzero(taken)
    codes = fam[rows_all]
    order = np.argsort(codes, kind="stable")
    return [(names[codes[group[0]]], rows_all[group])
            for group in np.split(order, np.flatnonzero(np.diff(codes[order])) + 1) if group.size]


def _drop_repeats(families: list[np.ndarray], shaps: list[np.ndarray],
                  texts: dict[tuple[int, str], np.ndarray], langs: list[str], k: int) -> None:
    """In place: a sentence already listed at a higher rank (in any language) is dropped, and
    the reasons below it move up, so a card never shows the same line twice."""
    if k < 2 or not langs:
        return
    present = np.stack([f != None for f in families], axis=1)  # noqa: E711 (object arrays)
    drop = np.zeros_like(present)
    for r in range(1, k):
        for q in range(r):
            for lang in langs:
                same = (texts[(r, lang)] == texts[(q, lang)]) & present[:, r] & present[:, q] & ~drop[:, q]
                drop[:, r] |= same.astype(bool)
    if not drop.any():
        return
    keep = present & ~drop
    order = np.argsort(~keep, axis=1, kind="stable")
    rows = np.flatnonzero(drop.any(axis=1))
    empty = ~np.take_along_axis(keep, order, axis=1)

    def shift(columns: list[np.ndarray], blank: object) -> None:
        stacked = np.stack(columns, axis=1)
        moved = np.take_along_axis(stacked[rows], order[rows], axis=1)
        moved[empty[rows]] = blank
        for r in range(k):
            columns[r][rows] = moved[:, r]

    shift(families, None)
    shift(shaps, np.nan)
    for lang in langs:
        column = [texts[(r, lang)] for r in range(k)]
        shift(column, None)


# -- rendering ---------------------------------------------------------------------------


_KINDS: tuple[str, ...] = ("missing", "zero", "up", "down", "text", "below")
"""The template phrases, by kind code (`render`)."""
_MISSING, _ZERO, _UP, _DOWN, _TEXT, _BELOW = range(len(_KINDS))


def render(template: Template, values: np.ndarray, lang: str, *, effect: str = "",
           missing_value: str = "unknown", reason_format: str = "{reason}",
           currency: str = num.DEFAULT_CURRENCY) -> np.ndarray:
    """Phrase `template` for each value; each distinct displayed value is formatted once.
    A phrase without `{effect}` is written into `reason_format` ("{effect}: {reason}"), so
    every reason says which way it moves the score. A few values (a served request) are
    phrased one by one (`render_one`: the same words)."""
    n = len(values)
    if n <= _FEW:
        return _objects([render_one(template, v, lang, effect=effect, missing_value=missing_value,
                                    reason_format=reason_format, currency=currency) for v in values.tolist()])
    out = np.empty(n, dtype=object)
    if template.format == "category":
        keys = pd.Series(values, dtype=object)
        missing = keys.isna().to_numpy()
        shown = keys.astype(str).to_numpy(dtype=object)
        kinds = np.where(missing, _MISSING, _TEXT if template.text is not None else _UP)
    else:
        numbers = _as_numbers(values)
        shown = _display_keys(template.format, numbers, signed=template.signed)
        kinds = np.where(numbers < 0, _DOWN, _UP) if template.signed else np.full(n, _TEXT)
        if template.below is not None and template.min_value is not None:
            with np.errstate(invalid="ignore"):
                kinds = np.where(numbers < template.min_value, _BELOW, kinds)
        if template.zero is not None:
            kinds = np.where(shown == 0, _ZERO, kinds)
        kinds = np.where(~np.isfinite(numbers), _MISSING, kinds)
    for kind in np.unique(kinds):
        rows = np.flatnonzero(kinds == kind)
        if kind == _MISSING:
            phrase = _signed(template.missing or template.text or template.up, reason_format)
            out[rows] = phrase.format(value=missing_value, effect=effect)
            continue
        phrase = _signed(getattr(template, _KINDS[kind]), reason_format)
        uniques, inverse = np.unique(shown[rows], return_inverse=True)
        words = np.array([phrase.format(value=format_value(template, u, lang, currency), effect=effect)
                          for u in uniques], dtype=object)
        out[rows] = words[inverse]
    return out


def render_one(template: Template, value: object, lang: str, *, effect: str = "",
               missing_value: str = "unknown", reason_format: str = "{reason}",
               currency: str = num.DEFAULT_CURRENCY) -> str:
    """`render` of one value, without arrays: the same kinds (`_kind_one`), keys
    (`_display_key_one`) and words."""
    if template.format == "category":
        missing = value is None or pd.isna(value)
        shown: object = None if missing else str(value)
        kind = _MISSING if missing else (_TEXT if template.text is not None else _UP)
    else:
        if not isinstance(value, (int, float)):  # text where a number belongs: as pandas reads it
            value = float(_as_numbers(np.array([value], dtype=object))[0])
        x = float(value)
        shown = _display_key_one(template.format, x, signed=template.signed)
        kind = _DOWN if template.signed and x < 0 else (_UP if template.signed else _TEXT)
        if template.below is not None and template.min_value is not None and x < template.min_value:
            kind = _BELOW
        if template.zero is not None and shown == 0:
            kind = _ZERO
        if not math.isfinite(x):
            kind = _MISSING
    if kind == _MISSING:
        phrase = _signed(template.missing or template.text or template.up, reason_format)
        return phrase.format(value=missing_value, effect=effect)
    phrase = _signed(getattr(template, _KINDS[kind]), reason_format)
    return phrase.format(value=format_value(template, shown, lang, currency), effect=effect)


def _objects(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


_FEW = 8
"""Up to this many values (a served request) are phrased one by one (the same words)."""


def _signed(phrase: str, reason_format: str) -> str:
    """`phrase` inside `reason_format` unless it places `{effect}` itself."""
    return phrase if "{effect}" in phrase else reason_format.replace("{reason}", phrase)


def _as_numbers(values: np.ndarray) -> np.ndarray:
    """Values as float64, NaN where not a number (`pd.to_numeric(errors="coerce")`)."""
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)


def _display_keys(fmt: str, numbers: np.ndarray, *, signed: bool) -> np.ndarray:
    """The number as it will be displayed (rounded), so that equal texts are formatted once."""
    x = np.abs(numbers) if signed else numbers.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        if fmt == "pct_change":
            x = np.round(np.expm1(numbers) * 100.0)
            x = np.abs(x) if signed else x
        elif fmt in ("share", "points"):
            x = np.round(x * 100.0)
        elif fmt in ("days", "months"):
            x = np.round(x)
        elif fmt == "count":
            x = np.where(np.abs(x) < 10, np.round(x, 1), np.round(x))
        elif fmt == "ratio":
            x = np.round(x, 2)
        else:  # currency, number: three significant figures
            x = num.round_significant(x, 3)
    return x


def _display_key_one(fmt: str, v: float, *, signed: bool) -> float:
    """`_display_keys` of one float, by the same IEEE operations (numpy's own `expm1` and
    `log10`, whose last bits may differ from `math`'s)."""
    x = abs(v) if signed else v
    if fmt == "pct_change":
        x = num.rint(float(np.expm1(np.array([v]))[0]) * 100.0)
        return abs(x) if signed else x
    if fmt in ("share", "points"):
        return num.rint(x * 100.0)
    if fmt in ("days", "months"):
        return num.rint(x)
    if fmt == "count":
        return num.rint(x * 10.0) / 10.0 if abs(x) < 10 else num.rint(x)
    if fmt == "ratio":
        return num.rint(x * 100.0) / 100.0
    return num.round_significant_one(x, 3)


def format_value(template: Template, value: object, lang: str, currency: str = num.DEFAULT_CURRENCY) -> str:
    """One displayed value (already rounded by `_display_keys`, or a category)."""
    fmt = template.format
    if fmt == "category":
        return template.labels.get(str(value), str(value))
    v = float(value) + 0.0  # a negative zero reads as zero ("0%", not "-0%"), whichever a batch keeps
    if fmt in ("pct_change", "share"):
        return f"{v:,.0f}%"
    if fmt == "points":
        return f"{v:,.0f}"
    if fmt in ("days", "count"):
        return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"
    if fmt == "months":
        return _months(v, lang)
    if fmt == "ratio":
        return f"{v:.2f}"
    if fmt == "currency":
        return num.format_money(v, lang, currency)
    return num.format_count(v, lang)


def _months(v: float, lang: str) -> str:
    n = int(round(v))
    if abs(n) >= 24:
        years = f"{abs(n) / 12.0:.1f}".removesuffix(".0")
        return f"{years}年" if lang == "zh" else f"{years} years"
    if lang == "zh":
        return f"{n}个月"
    return f"{n} month" if abs(n) == 1 else f"{n} months"


class CatalogueReasons:
    """A reason writer for the recommender (`(model key, contrib, X) -> reason_{m}_{k}_*`
    columns): `reason_codes` with fixed families and catalogues."""

    def __init__(self, families: Mapping[str, str], catalogues: Mapping[str, ReasonCatalogue], k: int = 3,
                 direction: Direction = "balanced") -> None:
        self.families = dict(families)
        self.direction = direction
        self.catalogues = dict(catalogues)
        self.k = k
        self._plans: dict[tuple[str, ...], ReasonPlan] = {}

    def __call__(self, key: str, contrib: np.ndarray, X: pd.DataFrame) -> pd.DataFrame:
        return reason_frame(self.arrays(key, contrib, X), X.index)

    def arrays(self, key: str, contrib: np.ndarray, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """The same columns as numpy arrays (`reason_arrays`): the recommender's fast path."""
        given = tuple(X.columns)
        plan = self._plans.get(given)
        if plan is None:  # checked and planned once per feature list
            features = tuple(str(c) for c in given)
            plan = self._plans[given] = reason_plan(features, self.families, self.catalogues)
        features = plan.features
        _check_shapes(contrib, X.shape[0], len(features), self.k)
        return reason_arrays(plan, contrib, X, self.catalogues, model=key, k=self.k, direction=self.direction)
