"""Vectorised reason sentences: number formats and template filling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tierwise.models as models
from tierwise.models._policy_text import (
    format_growth,
    format_money,
    format_percent,
    money_label,
    percent_label,
    render_by_code,
    share_label,
    template_fields,
)


@pytest.mark.parametrize(
    ("value", "lang", "label"),
    [
        (1_234_567.0, "en", "¥1.23 million"),
        (45_600.0, "en", "¥45,600"),
        (512.0, "en", "¥512"),
        (-3_000.0, "en", "-¥3,000"),
        (0.0, "en", "¥0"),
        (2_500_000_000.0, "en", "¥2.5 billion"),
        (123_400.0, "zh", "¥12.3万"),
        (250_000_000.0, "zh", "¥2.5亿"),
        (5_120.0, "zh", "¥5,120"),
    ],
)
def test_money_labels_are_the_one_formatter(value, lang, label):
    assert format_money(np.array([value]), "¥", lang).to_pylist() == [label]
    assert money_label(value, "¥", lang) == label == models.format_money(value, lang)
    many = format_money(np.array([value, value * 1.0001, np.nan]), "¥", lang).to_pylist()
    assert many == [models.format_money(v, lang) or "n/a" for v in (value, value * 1.0001, np.nan)]


@pytest.mark.parametrize(
    ("value", "label"),
    [(0.004, "0.40%"), (0.0, "0%"), (0.0047, "0.47%"), (0.1234, "12.3%"), (0.0207, "2.1%"), (0.00995, "1.0%")],
)
def test_percent_labels_are_the_one_formatter(value, label):
    assert percent_label(value) == label == models.format_probability(value)
    assert format_percent(np.array([value])).to_pylist() == [label]


def test_share_and_growth_labels():
    assert share_label(0.01) == "1%"
    assert share_label(1 - 0.995) == "0.5%"
    assert format_growth(np.array([np.log(1.35), np.log(0.88)])).to_pylist() == ["+35%", "-12%"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e12, 1e12), min_size=1, max_size=50))
def test_rounding_keeps_three_significant_digits(values):
    array = np.array(values)
    rounded = models._numbers.round_significant(array)
    big = np.abs(array) >= 1e-6
    assert np.allclose(rounded[big], array[big], rtol=5e-3)
    assert (np.sign(rounded[big]) == np.sign(array[big])).all()


def test_render_by_code_puts_each_row_in_its_own_template():
    codes = np.array([1, 0, 1, 2])
    values = np.array([10.0, 20.0, 30.0, 40.0])
    fields = {
        "x": lambda rows: pa.array([f"{v:g}" for v in values[rows]]),
        "unit": "kg",
    }
    out = render_by_code(codes, {0: "zero {x}", 1: "one {x} {unit}", 2: "two"}, fields)
    assert out.to_pylist() == ["one 10 kg", "zero 20", "one 30 kg", "two"]
    assert render_by_code(np.array([0, 0]), {0: "a {x}"}, fields).to_pylist() == ["a 10", "a 20"]
    assert render_by_code(np.array([], dtype=int), {0: "a"}, fields).to_pylist() == []


def test_template_fields_must_be_plain_names():
    assert template_fields("{tier}: {ev} and {pd}") == ["tier", "ev", "pd"]
    with pytest.raises(ValueError, match="plain name"):
        template_fields("{ev:.2f}")


def test_codes_of_one_value_is_its_code_in_a_batch():
    """A served client's segment or previous tier gets the code it gets in a batch: missing,
    unknown and non-text values included."""
    from tierwise.models._policy_text import codes_of

    values = pd.Series(["Premier", None, "nowhere", 1.0, "General", np.nan, "1.0"], dtype=object)
    categories = ["General", "Potential", "Excellence", "Premier", "1.0"]
    batch = codes_of(values, categories)
    assert batch.tolist() == [3, -1, -1, 4, 0, -1, 4]
    for i in range(len(values)):
        assert codes_of(values.iloc[[i]], categories).tolist() == [batch[i]], values.iloc[i]


def test_one_client_renders_as_its_row_in_a_batch():
    """A single row (a served client) is joined in Python, not by Arrow: the same text, and a
    missing field still makes the text missing."""
    from tierwise.models._policy_text import render

    values = np.array([10.0, np.nan, 2.5])
    fields = {
        "x": lambda rows: pa.array([None if np.isnan(v) else f"{v:g}" for v in values[rows]], type=pa.string()),
        "unit": "kg",
    }
    template = "about {x} {unit}, {x} again"
    batch = render(template, fields, np.arange(3))
    assert batch.to_pylist() == ["about 10 kg, 10 again", None, "about 2.5 kg, 2.5 again"]
    for i in range(3):
        assert render(template, fields, np.array([i])).to_pylist() == [batch[i].as_py()]
