"""One number formatter: money with its currency and the language's large-number words, PDs
with two significant digits below 1% and one decimal above, the same string for the same value."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierwise.models import (
    format_change,
    format_count,
    format_money,
    format_probability,
    format_share,
)
from tierwise.models._numbers import money_key, probability_key


@pytest.mark.parametrize(("value", "lang", "text"), [
    (1_380_000.0, "en", "¥1.38 million"), (1_380_000.0, "zh", "¥138万"),
    (28_566.0, "en", "¥28,600"), (28_566.0, "zh", "¥2.86万"), (2_350.0, "zh", "¥2,350"),
    (138_000_000.0, "zh", "¥1.38亿"), (-512.4, "en", "-¥512"), (0.0, "zh", "¥0"), (float("nan"), "en", ""),
])
def test_money_carries_its_currency_and_the_languages_units(value, lang, text):
    assert format_money(value, lang) == text


def test_money_in_another_currency():
    assert format_money(2_000_000.0, "en", currency="HK$") == "HK$2 million"


@pytest.mark.parametrize(("p", "text"), [
    (0.0047, "0.47%"), (0.00031, "0.031%"), (0.0207, "2.1%"), (0.02, "2.0%"), (0.234, "23.4%"),
    (0.0, "0%"), (0.009996, "1.0%"), (float("nan"), ""), (0.9997, "99.97%"), (0.995, "99.5%"), (1.0, "100.0%"),
])
def test_probabilities_two_significant_digits_below_one_percent_one_decimal_above(p, text):
    assert format_probability(p) == text
    assert format_probability(p, "zh") == text


def test_changes_shares_and_counts():
    assert format_change(math.log(1.35)) == "+35%"
    assert format_change(math.log(0.69)) == "-31%"
    assert format_change(0.0) == "0%"
    assert format_share(0.005) == "0.5%"
    assert format_count(14164.0) == "14,164"
    assert format_count(2.5, "zh") == "2.5"


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError, match="no number format"):
        format_money(1.0, "fr")


@settings(max_examples=60, deadline=None)
@given(st.floats(-1e11, 1e11, allow_nan=False), st.sampled_from(["en", "zh"]))
def test_money_is_a_function_of_its_rounded_key(value, lang):
    """A batch formats each distinct key once: the key must give the same string as the value."""
    assert format_money(float(money_key(value)), lang) == format_money(value, lang)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 1.0, allow_nan=False))
def test_probability_is_a_function_of_its_rounded_key(p):
    assert format_probability(float(probability_key(p)) / 100.0) == format_probability(p)
    shown = float(format_probability(p).rstrip("%"))
    assert shown == pytest.approx(p * 100, rel=0.06, abs=0.051)


def test_keys_are_vectorised():
    values = np.array([0.0047, 0.0207, np.nan])
    np.testing.assert_allclose(probability_key(values), [0.47, 2.1, np.nan])


def test_one_value_rounds_to_the_bits_of_the_vectorised_key():
    """`round_significant_one` (a served client's figures, no arrays) gives the bits of
    `round_significant` over an array: every scale, values next to powers of ten (where
    `log10` decides the step), halves, zeros, the smallest shown amount and non-finite values."""
    from tierwise.models._numbers import round_significant, round_significant_one

    rng = np.random.default_rng(0)
    powers = 10.0 ** np.arange(-7, 300)
    values = np.concatenate([rng.lognormal(0, 8, 20_000) * rng.choice([-1, 1], 20_000), powers,
                             np.nextafter(powers, 0), np.nextafter(powers, np.inf), np.arange(-2000, 2000) + 0.5,
                             [0.0, -0.0, 1e-6, 9.99e-7, -1e-6, 5e-324, 1.7e308, np.nan, np.inf, -np.inf]])
    for digits in (2, 3):
        with np.errstate(invalid="ignore"):
            expected = round_significant(values, digits)
        got = np.array([round_significant_one(float(v), digits) for v in values])
        np.testing.assert_array_equal(got, expected)
        assert (np.signbit(got) == np.signbit(expected))[~np.isnan(expected)].all()


def test_one_probability_rounds_to_the_bits_of_the_vectorised_key():
    """`probability_key_one` against `probability_key`: below 1%, from 1%, near certainty
    (where the decimals follow the distance to 100%), the edges and non-finite values."""
    from tierwise.models._numbers import probability_key_one

    rng = np.random.default_rng(1)
    near = 1.0 - 10.0 ** -rng.uniform(2, 9, 5_000)
    values = np.concatenate([rng.random(20_000), rng.random(5_000) * 0.01, near, np.nextafter(near, 1.0),
                             np.arange(0, 1001) / 1000, np.arange(0, 1001) / 1000 + 0.00005,
                             [0.0, -0.0, 0.0099999, 0.01, 0.99, 0.990001, 0.999999999, 1.0, 1.5, -0.2,
                              np.nan, np.inf, -np.inf]])
    with np.errstate(invalid="ignore"):
        expected = probability_key(values)
    got = np.array([probability_key_one(float(v)) for v in values])
    np.testing.assert_array_equal(got, expected)
    assert (np.signbit(got) == np.signbit(expected))[~np.isnan(expected)].all()
