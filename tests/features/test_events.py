"""The optional events table: it drives the labels where present, one-line errors when bad."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_bank import month_at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.features import (
    DataError,
    build_labels,
    check_events,
    events_path,
    label_history,
    read_events,
)

T = 10  # snapshot month; the default horizon runs to month 22, churn's to month 16


def _events(*rows: tuple[str, int, str]) -> pd.DataFrame:
    return pd.DataFrame({
        "client_id": pd.array([r[0] for r in rows], dtype="str"),
        "month": pd.to_datetime([month_at(r[1]) for r in rows]),
        "kind": pd.array([r[2] for r in rows], dtype="str"),
    })


def _label(labels: pd.DataFrame, client: str, column: str) -> float:
    return float(labels.loc[labels["client_id"] == client, column].iloc[0])


# --- events drive the labels ---------------------------------------------------------------

def test_a_default_event_is_a_default_and_days_past_due_no_longer_count(bank, feature_config):
    _, monthly = bank  # C0003 reaches 90 days past due in month 21; C0006 never is in arrears
    before = build_labels(monthly, month_at(T), feature_config)
    assert _label(before, "C0003", "default_12m") == 1
    assert _label(before, "C0006", "default_12m") == 0
    labels = build_labels(monthly, month_at(T), feature_config, events=_events(("C0006", 15, "default")))
    assert _label(labels, "C0006", "default_12m") == 1
    assert _label(labels, "C0003", "default_12m") == 0  # the bank recorded no default for C0003
    assert _label(build_labels(monthly, month_at(2), feature_config,
                               events=_events(("C0006", 15, "default"))), "C0006", "default_12m") == 0


def test_a_client_whose_default_is_recorded_is_not_scored_again(bank, feature_config):
    _, monthly = bank
    events = _events(("C0006", 8, "default"))
    labels = build_labels(monthly, month_at(T), feature_config, events=events)
    assert np.isnan(_label(labels, "C0006", "default_12m"))
    assert _label(labels, "C0002", "default_12m") == 0


def test_a_closure_event_is_churn_and_ends_retention(bank, feature_config):
    _, monthly = bank
    before = build_labels(monthly, month_at(T), feature_config)
    assert _label(before, "C0006", "churn_6m") == 0
    assert not np.isnan(_label(before, "C0006", "growth_12m"))
    labels = build_labels(monthly, month_at(T), feature_config, events=_events(("C0006", 14, "closure")))
    assert _label(labels, "C0006", "churn_6m") == 1
    assert np.isnan(_label(labels, "C0006", "growth_12m"))
    assert _label(labels, "C0006", "default_12m") == 0  # no default kinds: days past due still rule
    assert _label(labels, "C0003", "default_12m") == 1


def test_a_write_off_is_both_churn_and_default(bank, feature_config):
    _, monthly = bank
    labels = build_labels(monthly, month_at(T), feature_config, events=_events(("C0006", 13, "write_off")))
    assert _label(labels, "C0006", "churn_6m") == 1
    assert _label(labels, "C0006", "default_12m") == 1


def test_write_offs_alone_add_to_the_rules_without_replacing_them(bank, feature_config):
    _, monthly = bank  # no closure or default row: relationship_closed and days past due still count
    events = _events(("C0006", 13, "write_off"))
    assert _label(build_labels(monthly, month_at(T), feature_config, events=events), "C0003", "default_12m") == 1
    assert _label(build_labels(monthly, month_at(15), feature_config, events=events), "C0001", "churn_6m") == 1
    assert np.isnan(_label(build_labels(monthly, month_at(14), feature_config, events=events),
                           "C0006", "default_12m"))  # written off at 13: not scored at 14


def test_events_outside_the_horizon_or_of_unknown_clients_change_nothing(bank, feature_config):
    _, monthly = bank
    before = build_labels(monthly, month_at(T), feature_config)
    events = _events(("C0006", 18, "closure"), ("C0006", 25, "default"), ("C9999", 12, "default"),
                     ("C0002", 28, "closure"))
    labels = build_labels(monthly, month_at(T), feature_config, events=events)
    for column in ("churn_6m", "default_12m"):
        assert _label(labels, "C0006", column) == 0
    # the default kinds are recorded, so C0003's days past due no longer make a default
    assert _label(labels, "C0003", "default_12m") == 0
    pd.testing.assert_series_equal(labels["churn_6m"], before["churn_6m"])


def test_recorded_closures_replace_the_closure_flags(bank, feature_config):
    _, monthly = bank
    monthly = monthly.copy()  # C0006 flagged closed in month 13, yet its rows go on
    flagged = (monthly["client_id"] == "C0006") & (monthly["month"] == pd.Timestamp(month_at(13)))
    monthly.loc[flagged, "relationship_closed"] = True
    assert _label(build_labels(monthly, month_at(T), feature_config), "C0006", "churn_6m") == 1
    recorded = build_labels(monthly, month_at(T), feature_config, events=_events(("C0002", 12, "closure")))
    assert _label(recorded, "C0006", "churn_6m") == 0
    assert _label(recorded, "C0002", "churn_6m") == 1


# --- absent or empty: the rules on monthly, unchanged ----------------------------------------

@pytest.mark.parametrize("events", [None, _events()])
def test_no_events_gives_the_rules_on_monthly(bank, feature_config, events):
    _, monthly = bank
    pd.testing.assert_frame_equal(build_labels(monthly, month_at(T), feature_config, events=events),
                                  build_labels(monthly, month_at(T), feature_config))


def test_each_task_falls_back_on_its_own(bank, feature_config):
    _, monthly = bank
    before = build_labels(monthly, month_at(T), feature_config)
    only_defaults = build_labels(monthly, month_at(T), feature_config, events=_events(("C0006", 15, "default")))
    pd.testing.assert_series_equal(only_defaults["churn_6m"], before["churn_6m"])
    pd.testing.assert_series_equal(only_defaults["growth_12m"], before["growth_12m"])
    only_closures = build_labels(monthly, month_at(T), feature_config, events=_events(("C0006", 14, "closure")))
    pd.testing.assert_series_equal(only_closures["default_12m"], before["default_12m"])


def test_label_history_uses_the_events_as_build_labels_does(bank, feature_config):
    _, monthly = bank
    events = _events(("C0006", 15, "default"), ("C0002", 12, "closure"))
    months = [month_at(8), month_at(T)]
    history = label_history(monthly, feature_config, months, events=events)
    single = pd.concat([build_labels(monthly, m, feature_config, events=events) for m in months], ignore_index=True)
    pd.testing.assert_frame_equal(history, single)


# --- reading and checking the table ----------------------------------------------------------

def test_read_events_from_parquet_or_csv_and_none_when_absent(tmp_path):
    assert events_path(tmp_path) is None
    assert read_events(tmp_path) is None
    events = _events(("C0006", 15, "default"), ("C0002", 12, "write_off"))
    events.to_csv(tmp_path / "events.csv", index=False)
    from_csv = read_events(tmp_path)
    assert from_csv["kind"].tolist() == ["default", "write_off"]
    assert from_csv["month"].tolist() == [pd.Timestamp(month_at(15)), pd.Timestamp(month_at(12))]
    events.to_parquet(tmp_path / "events.parquet")
    assert events_path(tmp_path).name == "events.parquet"
    pd.testing.assert_frame_equal(read_events(tmp_path), from_csv)


@pytest.mark.parametrize(("text", "message"), [
    ("client_id,month\nC1,2024-01-01\n", "missing column 'kind'"),
    ("client_id,month,kind\nC1,2024-01-01,default\nC2,2024-02-01,restructure\n",
     "column 'kind' holds 'restructure' in row 1; expected one of default, closure, write_off"),
    ("client_id,month,kind\nC1,2024-01-15,default\n", "column 'month' holds '2024-01-15' in row 0"),
    ("client_id,month,kind\nC1,2024-01-01,default\nC2,soon,closure\n", "column 'month' holds 'soon' in row 1"),
    ("client_id,month,kind\nC1,2024-01-01,default\n,2024-02-01,closure\n", "column 'client_id' is empty in row 1"),
    ("client_id,month,kind\nC1,,default\n", "column 'month' is empty in row 0"),
    ("client_id,month,kind\nC1,2024-01-01,\n", "column 'kind' is empty in row 0"),
])
def test_a_bad_events_file_is_one_line_naming_file_column_and_row(tmp_path, text, message):
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_events(tmp_path)
    assert str(err.value) == f"{path}: {message}" or str(err.value).startswith(f"{path}: {message}")
    assert "\n" not in str(err.value)


def test_an_unreadable_events_file_is_one_line(tmp_path):
    path = tmp_path / "events.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"events.parquet: cannot be read"):
        read_events(tmp_path)


def test_kinds_ignore_case_and_spaces_and_months_may_not_be_numbers():
    events = pd.DataFrame({"client_id": ["C1", "C2"], "month": ["2024-01-01", "2024-02-01"],
                           "kind": [" Default", "WRITE_OFF "]})
    assert check_events(events)["kind"].tolist() == ["default", "write_off"]
    with pytest.raises(DataError, match=r"^events: column 'month' has type int64, expected a month"):
        check_events(events.assign(month=[202401, 202402]))


def test_build_labels_checks_events_given_in_memory(bank, feature_config):
    _, monthly = bank
    with pytest.raises(DataError, match=r"events: column 'kind' holds 'lapse' in row 0"):
        build_labels(monthly, month_at(T), feature_config, events=_events(("C0006", 15, "lapse")))
    assert len(check_events(_events())) == 0


# --- any events table: labels for the same clients, or one line --------------------------------

_CLIENTS = ["C0000", "C0003", "C0004", "C0006", "C0001", "C9999"]
_MONTHS = [month_at(i).isoformat() for i in (-3, 0, 5, 11, 12, 16, 29, 40)]
_KINDS = ["default", "closure", "write_off", " Write_Off"]
_good_row = st.tuples(st.sampled_from(_CLIENTS), st.sampled_from(_MONTHS), st.sampled_from(_KINDS))
_any_row = st.tuples(st.sampled_from([*_CLIENTS, "", None]),
                     st.sampled_from([*_MONTHS, "2022-03-15", "soon", None, ""]),
                     st.sampled_from([*_KINDS, "restructure", "", None]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_good_row, max_size=6), odd=st.none() | _any_row, at=st.integers(0, 6),
       drop=st.sampled_from([None, None, None, "client_id", "month", "kind"]))
def test_any_events_table_gives_labels_for_the_same_clients_or_one_line(bank, feature_config, rows, odd, at, drop):
    _, monthly = bank
    if odd is not None:
        rows = [*rows[:at], odd, *rows[at:]]
    events = pd.DataFrame(rows, columns=["client_id", "month", "kind"]).astype(object)
    if drop is not None:
        events = events.drop(columns=drop)
    plain = build_labels(monthly, month_at(T), feature_config)
    try:
        labels = build_labels(monthly, month_at(T), feature_config, events=events)
    except DataError as err:
        assert "\n" not in str(err) and str(err).startswith("events: ")
        return
    assert labels["client_id"].tolist() == plain["client_id"].tolist()
    for column in ("churn_6m", "default_12m"):
        assert set(labels[column].dropna().unique()) <= {0.0, 1.0}
    for column in ("churn_complete", "default_complete", "growth_complete"):
        pd.testing.assert_series_equal(labels[column], plain[column])
    # a client without credit exposure at t is never scored for default, whatever the events say
    assert np.isnan(_label(labels, "C0004", "default_12m"))
    # events only add to a rule whose kind the table does not record
    kinds = set(check_events(events)["kind"])
    for kind, column in (("closure", "churn_6m"), ("default", "default_12m")):
        if kind not in kinds:
            both = labels[column].notna() & plain[column].notna()
            assert (labels.loc[both, column] >= plain.loc[both, column]).all()
