"""Point-in-time snapshot features: shape, values checked against the raw rows, bad input."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from feature_bank import make_bank, month_at

from tierwise.features import DataError, FeatureConfig, feature_catalog, snapshot_features
from tierwise.features._catalog import carried_columns

ASSET_COLUMNS = ["deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance"]


def _row(frame: pd.DataFrame, client: str) -> pd.Series:
    rows = frame[frame["client_id"] == client]
    assert len(rows) == 1
    return rows.iloc[0]


def _raw(monthly: pd.DataFrame, client: str, i: int) -> pd.Series:
    rows = monthly[(monthly["client_id"] == client) & (monthly["month"] == pd.Timestamp(month_at(i)))]
    assert len(rows) == 1
    return rows.iloc[0]


def test_columns_are_ids_then_catalogue_then_carried(bank, feature_config):
    clients, monthly = bank
    out = snapshot_features(clients, monthly, month_at(15), feature_config)
    expected = ["client_id", "snapshot_month", *feature_catalog(feature_config), *carried_columns(feature_config)]
    assert list(out.columns) == expected
    assert out["client_id"].is_monotonic_increasing and out["client_id"].is_unique
    assert (out["snapshot_month"] == pd.Timestamp(month_at(15))).all()


def test_one_row_per_client_alive_at_t(bank, feature_config):
    clients, monthly = bank
    # month 15: C0002 has a gap (no row), C0000 joined in month 10, C0001 is still open
    at15 = set(snapshot_features(clients, monthly, month_at(15), feature_config)["client_id"])
    assert "C0002" not in at15 and {"C0000", "C0001"} <= at15
    # month 20: C0001 closes this month, so it is no longer alive
    at20 = set(snapshot_features(clients, monthly, month_at(20), feature_config)["client_id"])
    assert "C0001" not in at20 and "C0002" in at20
    # month 5: C0000 has not joined yet
    assert "C0000" not in set(snapshot_features(clients, monthly, month_at(5), feature_config)["client_id"])


def test_levels_and_totals_match_the_raw_rows(bank, feature_config):
    clients, monthly = bank
    out = snapshot_features(clients, monthly, month_at(15), feature_config)
    for client in ("C0003", "C0004"):
        raw = _raw(monthly, client, 15)
        row = _row(out, client)
        assert row["assets_total"] == pytest.approx(raw[ASSET_COLUMNS].sum())
        assert row["credit_exposure"] == pytest.approx(raw["loan_balance"] + raw["card_balance"])
        assert row["deposit_total"] == pytest.approx(raw["deposit_current"] + raw["deposit_time"])


def test_changes_read_t_minus_w(bank, feature_config):
    clients, monthly = bank
    out = snapshot_features(clients, monthly, month_at(16), feature_config)
    row = _row(out, "C0005")
    for w in (1, 3, 6, 12):
        now, then = _raw(monthly, "C0005", 16), _raw(monthly, "C0005", 16 - w)
        a_now, a_then = now[ASSET_COLUMNS].sum(), then[ASSET_COLUMNS].sum()
        assert row[f"assets_total_chg_{w}m"] == pytest.approx(np.log((a_now + 100) / (a_then + 100)))
        assert row[f"mobile_logins_chg_{w}m"] == now["mobile_logins"] - then["mobile_logins"]


def test_short_history_and_gap_months_give_nan_not_zero(bank, feature_config):
    clients, monthly = bank
    out = snapshot_features(clients, monthly, month_at(16), feature_config)
    late = _row(out, "C0000")  # 7 months of history
    assert not np.isnan(late["assets_total_chg_6m"])
    assert np.isnan(late["assets_total_chg_12m"]) and np.isnan(late["days_past_due_max_12m"])
    gap = _row(out, "C0002")  # no row in month 15
    assert np.isnan(gap["deposit_total_chg_1m"]) and not np.isnan(gap["deposit_total_chg_3m"])
    assert not np.isnan(gap["assets_total_slope_6m"])


def test_gap_months_are_logged(bank, feature_config, caplog):
    clients, monthly = bank
    with caplog.at_level(logging.INFO, logger="tierwise.features._snapshot"):
        snapshot_features(clients, monthly, month_at(16), feature_config)
    assert "1 client(s) have gap months" in caplog.text


def test_recency_counts_months_back_to_the_last_event(bank, feature_config):
    clients, monthly = bank
    t = 18
    out = snapshot_features(clients, monthly, month_at(t), feature_config)
    past = monthly[monthly["month"] <= pd.Timestamp(month_at(t))]
    for feature, column in (("months_since_salary", "salary_inflow"),
                            ("months_since_mobile_login", "mobile_logins"),
                            ("months_since_branch_visit", "branch_txn_count")):
        for client in ("C0003", "C0005", "C0006"):
            hits = past[(past["client_id"] == client) & (past[column] > 0)]["month"]
            last = hits.max()
            expected = (t - ((last.year - 2022) * 12 + last.month - 1)) if len(hits) else np.nan
            assert _row(out, client)[feature] == pytest.approx(expected, nan_ok=True), (feature, client)


def test_contribution_and_cost_average_the_last_months(bank, feature_config):
    clients, monthly = bank
    t, client = 17, "C0003"
    out = snapshot_features(clients, monthly, month_at(t), feature_config)
    value = feature_config.value
    earn, cost = [], []
    for i in range(t - value.average_months + 1, t + 1):
        raw = _raw(monthly, client, i)
        earn.append(sum(raw[c] * m / 12 for c, m in value.margins_annual.items()) + value.fee_share * raw["fee_income"])
        cost.append(sum(raw[c] * u for c, u in value.cost_per_unit.items()))
    row = _row(out, client)
    assert row["contribution_monthly"] == pytest.approx(np.mean(earn))
    assert row["cost_to_serve_monthly"] == pytest.approx(np.mean(cost))


def test_protected_attributes_are_carried_not_features(bank, feature_config):
    clients, monthly = bank
    names = set(feature_catalog(feature_config))
    assert not {"gender", "birth_year", "age_band"} & names
    out = snapshot_features(clients, monthly, month_at(15), feature_config)
    assert {"gender", "birth_year", "age_band"} <= set(out.columns)
    assert out["age_band"].isna().sum() == out["birth_year"].isna().sum()


def test_protected_features_only_when_configured(bank):
    clients, monthly = bank
    config = FeatureConfig(protected={"use_as_features": True})
    names = list(feature_catalog(config))
    assert "gender" in names and "age_band" in names and "birth_year" not in names
    out = snapshot_features(clients, monthly, month_at(15), config)
    assert out.columns.tolist().count("gender") == 1


def test_row_order_of_the_input_does_not_matter(bank, feature_config):
    clients, monthly = bank
    shuffled = monthly.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a = snapshot_features(clients, monthly, month_at(18), feature_config)
    b = snapshot_features(clients.iloc[::-1], shuffled, month_at(18), feature_config)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("subset", [["C0000", "C0003"], ["C0002", "C0005", "C0007"], ["C0004"]])
def test_a_partition_of_clients_gives_the_same_rows(subset, feature_config):
    clients, monthly = make_bank(n_clients=10, seed=4)
    full = snapshot_features(clients, monthly, month_at(20), feature_config)
    part = snapshot_features(clients[clients["client_id"].isin(subset)],
                             monthly[monthly["client_id"].isin(subset)], month_at(20), feature_config)
    expected = full[full["client_id"].isin(subset)].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, expected)


# ---------------------------------------------------------------------------- bad input


def test_missing_column_is_named(bank, feature_config):
    clients, monthly = bank
    with pytest.raises(DataError, match=r"^monthly: missing column 'fee_income'"):
        snapshot_features(clients, monthly.drop(columns="fee_income"), month_at(15), feature_config)
    with pytest.raises(DataError, match=r"^clients: missing column 'branch'"):
        snapshot_features(clients.drop(columns="branch"), monthly, month_at(15), feature_config)


def test_wrong_type_names_column_and_row(bank, feature_config):
    clients, monthly = bank
    bad = monthly.copy()
    bad["card_spend"] = bad["card_spend"].astype("str")
    bad.loc[4, "card_spend"] = "n/a"
    with pytest.raises(DataError, match=r"^monthly: column 'card_spend' has type str, expected numbers \(row 4 holds 'n/a'\)"):
        snapshot_features(clients, bad, month_at(15), feature_config)


def test_month_that_is_not_a_date(bank, feature_config):
    clients, monthly = bank
    bad = monthly.assign(month="soon")
    with pytest.raises(DataError, match=r"^monthly: column 'month' has type str, expected a month"):
        snapshot_features(clients, bad, month_at(15), feature_config)


def test_duplicate_client_month_is_an_error(bank, feature_config):
    clients, monthly = bank
    dup = pd.concat([monthly, monthly.iloc[[3]]], ignore_index=True)
    when = monthly.loc[3, "month"].strftime("%Y-%m")
    with pytest.raises(DataError, match=rf"^monthly: duplicate client-month: client_id 'C0000', month {when} appears"):
        snapshot_features(clients, dup, month_at(15), feature_config)


def test_snapshot_month_outside_the_data(bank, feature_config):
    clients, monthly = bank
    with pytest.raises(DataError, match=r"^snapshot month 2030-01 is outside the data: monthly covers 2022-01 to 2024-06"):
        snapshot_features(clients, monthly, pd.Timestamp("2030-01-01").date(), feature_config)


def test_client_missing_from_clients_table(bank, feature_config):
    clients, monthly = bank
    with pytest.raises(DataError, match=r"^monthly: 1 client\(s\) alive at 2023-04 are missing from clients \(e.g. client_id 'C0003'\)"):
        snapshot_features(clients[clients["client_id"] != "C0003"], monthly, month_at(15), feature_config)


def test_duplicate_client_in_clients_table(bank, feature_config):
    clients, monthly = bank
    with pytest.raises(DataError, match=r"^clients: client_id 'C0002' appears more than once"):
        snapshot_features(pd.concat([clients, clients.iloc[[2]]]), monthly, month_at(15), feature_config)


def test_text_columns_of_numbers_are_read_as_numbers(bank, feature_config):
    """A CSV extract read as text gives the same features as the typed table."""
    clients, monthly = bank
    as_text = monthly.astype({c: "str" for c in monthly.columns if c not in ("client_id", "month")})
    as_text["relationship_closed"] = as_text["relationship_closed"].str.lower()
    pd.testing.assert_frame_equal(snapshot_features(clients, as_text, month_at(15), feature_config),
                                  snapshot_features(clients, monthly, month_at(15), feature_config))


def test_closed_flag_that_is_not_true_or_false(bank, feature_config):
    clients, monthly = bank
    bad = monthly.astype({"relationship_closed": "str"})
    bad.loc[7, "relationship_closed"] = "maybe"
    with pytest.raises(DataError, match=r"^monthly: column 'relationship_closed' holds 'maybe' in row 7; expected true/false"):
        snapshot_features(clients, bad, month_at(15), feature_config)


def test_months_as_dates_or_text_are_accepted(bank, feature_config):
    clients, monthly = bank
    expected = snapshot_features(clients, monthly, month_at(15), feature_config)
    as_dates = monthly.assign(month=monthly["month"].dt.date)
    as_text = monthly.assign(month=monthly["month"].dt.strftime("%Y-%m-%d").astype("str"))
    for variant in (as_dates, as_text):
        pd.testing.assert_frame_equal(snapshot_features(clients, variant, month_at(15), feature_config), expected)
