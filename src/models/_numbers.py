"""One way to write a number: money, probabilities (PDs, churn), changes and shares, per language.

Every place that shows a figure to a person (the terminal's `explain` and `history`, the RM
pages, the tier reasons, the reason codes, the model cards) calls these functions, so the same
value reads the same everywhere. Babel supplies the locale's digits, grouping and large-number
words (`format_compact_decimal`): English writes millions and billions ("¥1.38 million"),
Chinese 万 and 亿 ("¥138万", "¥1.38亿").

- `format_money(value, lang, currency="¥")`: three significant digits; in English whole amounts
  up to a million ("¥28,600"), then "¥1.38 million"; in Chinese whole amounts up to 10,000
  ("¥2,350"), then 万 and 亿 ("¥2.86万").
- `format_probability(p)` (a PD, a churn likelihood): two significant digits below 1%
  ("0.47%", "0.031%"), one decimal from 1% ("2.1%", "23.4%"), near certainty the decimals
  that keep it below 100% ("99.97%", not "100.0%"); 0 is "0%".
- `format_change(log_change)`: a log change as a signed whole percentage ("+35%", "-31%").
- `format_share(share)`: a share of a population ("5%", "0.5%").
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from babel.numbers import format_compact_decimal, format_decimal

DEFAULT_CURRENCY = "¥"
"""The currency symbol where no configuration names one (the policy's and the reason
catalogues' `currency` default to it)."""

LOCALES: dict[str, str] = {"en": "en", "zh": "zh_CN"}
_COMPACT_FROM: dict[str, float] = {"en": 1e6, "zh": 1e4}
"""From which amount money is written with the language's large-number words."""


def _locale(lang: str) -> str:
    try:
        return LOCALES[lang]
    except KeyError:
        raise ValueError(f"language {lang!r} has no number format; one of {', '.join(LOCALES)}") from None


def round_significant(values: np.ndarray | float, digits: int = 3) -> np.ndarray:
    """`values` rounded to `digits` significant digits (0 stays 0; below a millionth: 0; NaN
    stays NaN). The key every formatter below rounds with, so a batch can format each distinct
    key once and get the same strings as one value at a time."""
    values = np.asarray(values, dtype=float)
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):
        shown = magnitude >= 1e-6
    safe = np.where(shown, magnitude, 1.0)
    step = 10.0 ** (np.floor(np.log10(safe)) - (digits - 1))
    return np.where(np.isnan(values), np.nan, np.where(shown, np.round(safe / step) * step * np.sign(values), 0.0))


_TEN_POWERS_FROM = -330
_TEN_POWERS = 10.0 ** np.arange(float(_TEN_POWERS_FROM), 309.0)
"""10.0 ** e for whole e, computed by numpy's power as `round_significant` computes its steps."""


def rint(x: float) -> float:
    """numpy's `round` of one float to a whole number (half to even, the sign of a zero kept)."""
    if not math.isfinite(x):
        return x
    r = float(round(x))
    return r if r != 0 else math.copysign(0.0, x)


def round_significant_one(value: float, digits: int = 3) -> float:
    """`round_significant` of one float without arrays of it (a served client's figures): the
    same IEEE operations in Python, numpy's own `log10` and powers of ten, so the same bits."""
    if value != value or value in (math.inf, -math.inf):
        return math.nan
    magnitude = abs(value)
    if not magnitude >= 1e-6:
        return 0.0
    exponent = math.floor(float(np.log10(np.array([magnitude]))[0])) - (digits - 1)
    step = _TEN_POWERS[exponent - _TEN_POWERS_FROM]
    return float(round(magnitude / step)) * float(step) * (1.0 if value > 0 else -1.0)


def money_key(values: np.ndarray | float) -> np.ndarray:
    """Amounts as `format_money` shows them (three significant digits)."""
    return round_significant(values, 3)


def probability_key(values: np.ndarray | float) -> np.ndarray:
    """Probabilities as `format_probability` shows them, in percent: two significant digits
    below 1%, one decimal from 1%."""
    percent = np.asarray(values, dtype=float) * 100.0
    with np.errstate(invalid="ignore", divide="ignore"):
        small = np.abs(percent) < 1
        rest = 100.0 - percent  # near certainty: as many decimals as the distance to 100% needs
        near = (percent > 99.0) & (rest > 0)
        digits = np.where(near, np.clip(-np.floor(np.log10(np.where(near, rest, 1.0))), 1, 6), 1)
    scale = 10.0 ** digits
    return np.where(small, round_significant(percent, 2), np.round(percent * scale) / scale)


def probability_key_one(p: float) -> float:
    """`probability_key` of one float without arrays of it (the same bits)."""
    percent = p * 100.0
    if abs(percent) < 1:
        return round_significant_one(percent, 2)
    rest = 100.0 - percent
    digits = 1
    if percent > 99.0 and rest > 0:
        digits = min(max(-math.floor(float(np.log10(np.array([rest]))[0])), 1), 6)
    scale = float(_TEN_POWERS[digits - _TEN_POWERS_FROM])
    return rint(percent * scale) / scale


_CACHE = 1 << 16
"""Formatted strings kept per (value, language): batches format the same rounded keys again and
again (each template of a million rows), and a Babel call costs tens of microseconds."""


def format_money(value: float, lang: str = "en", currency: str = DEFAULT_CURRENCY) -> str:
    """An amount with its currency, to three significant digits: "¥28,600", "¥1.38 million",
    "¥2.86万", "-¥512"; "" when there is no value."""
    _locale(lang)
    if value is None or not math.isfinite(float(value)):
        return ""
    return _money(float(value), lang, currency)


@lru_cache(maxsize=_CACHE)
def _money(value: float, lang: str, currency: str) -> str:
    locale = LOCALES[lang]
    shown = float(money_key(float(value)))
    sign = "-" if shown < 0 else ""
    amount = abs(shown)
    if amount >= _COMPACT_FROM[lang]:
        text = format_compact_decimal(amount, format_type="long" if lang == "en" else "short",
                                      locale=locale, fraction_digits=2)
    else:
        text = format_decimal(round(amount), format="#,##0", locale=locale)
    return f"{sign}{currency}{text}"


def format_probability(p: float, lang: str = "en") -> str:
    """A probability as a percentage: two significant digits below 1% ("0.47%"), one decimal
    from 1% ("2.1%"); "" when there is no value."""
    _locale(lang)
    if p is None or not math.isfinite(float(p)):
        return ""
    return _probability(float(p))


@lru_cache(maxsize=_CACHE)
def _probability(p: float) -> str:
    shown = float(probability_key(p))
    if shown == 0:
        return "0%"
    if abs(shown) < 1:
        decimals = max(0, 1 - int(math.floor(math.log10(abs(shown)))))
    elif 99.0 < shown < 100.0:
        decimals = int(min(max(-math.floor(math.log10(100.0 - shown)), 1), 6))
    else:
        decimals = 1
    return f"{shown:.{decimals}f}%"


format_pd = format_probability
"""A PD is written as any probability."""


def format_change(log_change: float, lang: str = "en") -> str:
    """A log change (growth) as a signed whole percentage of change: 0.3 -> "+35%"."""
    _locale(lang)
    if log_change is None or not math.isfinite(float(log_change)):
        return ""
    change = round(math.expm1(float(log_change)) * 100.0)
    return f"{change:+.0f}%" if change != 0 else "0%"


def format_share(share: float, lang: str = "en") -> str:
    """A share of a population: 0.05 -> "5%", 0.005 -> "0.5%" (up to four significant digits)."""
    _locale(lang)
    if share is None or not math.isfinite(float(share)):
        return ""
    return f"{float(share) * 100:.4g}%"


def format_count(value: float, lang: str = "en") -> str:
    """A count or a plain number with the locale's grouping: 14,164; 2.5."""
    _locale(lang)
    if value is None or not math.isfinite(float(value)):
        return ""
    return _count(float(value), LOCALES[lang])


@lru_cache(maxsize=_CACHE)
def _count(v: float, locale: str) -> str:
    return format_decimal(v, format="#,##0" if v == int(v) else "#,##0.#", locale=locale)
