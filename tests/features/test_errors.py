"""Helpers for one-line error messages."""

from __future__ import annotations


def test_missing_columns_keep_the_required_order():
    from tierwise.features import missing_columns

    assert missing_columns(["b", "x"], ["a", "b", "c"]) == ["a", "c"]
    assert missing_columns(["a"], ["a"]) == []


def test_first_names_count_the_rest():
    from tierwise.features import first_names

    assert first_names(["a", "b"]) == "a, b"
    assert first_names([f"c{i}" for i in range(5)]) == "c0, c1, c2, c3, c4"
    assert first_names([f"c{i}" for i in range(8)]) == "c0, c1, c2, c3, c4 (and 3 more)"
