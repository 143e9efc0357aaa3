import pandas as pd

from tierwise.models._card import grades_summary, model_card


def _grades(passed: list[bool]) -> pd.DataFrame:
    n = len(passed)
    return pd.DataFrame({"grade": [f"R{i + 1}" for i in range(n)], "n": [1000] * n, "defaults": [10] * n,
                         "mean_pd": [0.005] * n, "jeffreys_p": [0.5 if p else 1e-6 for p in passed],
                         "binomial_p": [0.9 if p else 2e-6 for p in passed],
                         "passed": passed})


def test_grades_summary_counts_failures_and_states_the_chance_level():
    text = grades_summary(_grades([False, False, True, False]))
    assert text.startswith("3 of 4 grades fail the one-sided Jeffreys test at 0.05 (PD too low): R1, R2, R4;")
    assert "about 0.2 would fail by chance alone, and 3 fail at the Bonferroni level 0.0125" in text
    assert "The two-sided binomial test, which also flags a PD that is too high, rejects in 3 grade(s)" in text
    assert "mean PD 0.0050 against an observed rate 0.0100 (40 defaults in 4000 clients)" in text
    assert "shift of the whole PD scale" in text


def test_grades_summary_without_failures_makes_no_drift_claim():
    text = grades_summary(_grades([True, True, True]))
    assert text.startswith("0 of 3 grades fail") and "shift" not in text


def test_model_card_puts_the_summary_above_the_grade_table():
    card = model_card(title="t", task="default", kind="binary", target="y", candidate="lightgbm",
                      primary_metric="roc_auc", valid_scores={"lightgbm": 0.8}, n_features=3,
                      calibration="platt", tuning_trials=0, data_window={"test": "x"}, fingerprint="f",
                      metrics={"roc_auc": 0.8}, metrics_scope="test", intended_use="", limitations=[],
                      grades=_grades([False, True]))
    section = card.split("## Calibration by grade\n", 1)[1]
    assert section.startswith("1 of 2 grades fail") and "| grade |" in section
