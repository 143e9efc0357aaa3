"""`generate --profile warehouse`: a bank that looks like a real warehouse extract -- short
history, no closure records, the bank's own branch codes, empty product columns, few loans --
deterministic, its recorded defaults as an events table, and the default bank untouched."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from tierwise.cli import app
from tierwise.features import (
    CLIENT_COLUMNS,
    MONTHLY_COLUMNS,
    ContractRules,
    FeatureConfig,
    TierwiseError,
    check_events,
    column_names,
    label_history,
    validate_tables,
)
from tierwise.synthetic import (
    DataConfig,
    OracleConfig,
    WarehouseConfig,
    bank_fingerprint,
    generate_bank,
    generate_profile,
    label_base_rates,
    recorded_defaults,
    warehouse_bank,
)

CFG = DataConfig(oracle=OracleConfig(pairs=300, snapshots=2, futures=64))
SEED = 42
EMPTY = ["deposit_time", "wealth_balance", "fund_balance", "insurance_balance", "card_limit",
         "mobile_logins", "complaints"]
runner = CliRunner()


def _digest(*frames: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for df in frames:
        h.update(repr(list(zip(df.columns, map(str, df.dtypes), strict=True))).encode())
        h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def bank():
    return warehouse_bank(CFG, seed=SEED, events=True)


# --- the shape of the profile ---------------------------------------------------------------

def test_about_1500_clients_over_21_months_in_the_contract(bank):
    assert list(bank.clients.columns) == column_names(CLIENT_COLUMNS)
    assert list(bank.monthly.columns) == column_names(MONTHLY_COLUMNS)
    assert len(bank.clients) == 1500 and bank.clients["client_id"].is_unique
    months = bank.monthly["month"]
    assert months.nunique() == 21
    assert (months.min().date(), months.max().date()) == (dt.date(2024, 4, 1), dt.date(2025, 12, 1))
    assert not bank.monthly.duplicated(["client_id", "month"]).any()


def test_no_closure_is_recorded_yet_leavers_stop_appearing(bank):
    m = bank.monthly
    assert not m["relationship_closed"].any()
    last = m.groupby("client_id")["month"].max()
    assert (last < m["month"].max()).sum() > 50  # clients who left: their rows just stop


def test_the_product_columns_the_bank_lacks_are_zero_and_the_rest_are_not(bank):
    m = bank.monthly
    assert (m[EMPTY] == 0).all().all()
    for name in ("deposit_current", "loan_balance", "card_balance", "mobile_txn_count", "salary_inflow"):
        assert (m[name] > 0).any(), name
    # products held counts what the extract has: current account, card, loan
    assert m["products_held"].max() <= 3
    expected = (m["deposit_current"] > 0).astype(int) + (m["card_balance"] > 0) + (m["loan_balance"] > 0)
    assert (m["products_held"] == expected).all()


def test_few_clients_have_a_loan(bank):
    m = bank.monthly
    borrowers = m.loc[m["loan_balance"] > 0, "client_id"].nunique()
    assert 150 <= borrowers <= 260
    with_credit = m.loc[(m["loan_balance"] + m["card_balance"]) > 0, "client_id"].nunique()
    assert with_credit < 0.25 * len(bank.clients)


def test_branch_codes_are_the_banks_own_and_pass_without_a_reference_list(bank):
    codes = bank.clients["branch"]
    assert codes.str.fullmatch(r"\d{4}").all()
    assert not codes.isin(CFG.branch_codes()).any()
    rm = bank.clients["rm_id"].dropna()
    assert len(rm) > 0
    assert (rm.str.slice(2, 6) == bank.clients.loc[rm.index, "branch"]).all()
    report = validate_tables(bank.clients, bank.monthly, rules=ContractRules())
    assert report.rows_rejected == {"clients": 0, "monthly": 0}


def test_the_extract_keeps_the_worlds_clients_and_client_months(bank):
    world = generate_bank(CFG.model_copy(update={"population": CFG.warehouse.population(CFG.population)}),
                          clients=1500, months=21, seed=SEED, start=dt.date(2024, 4, 1))
    pd.testing.assert_frame_equal(world.monthly[["client_id", "month"]], bank.monthly[["client_id", "month"]])
    kept = [c for c in column_names(MONTHLY_COLUMNS) if c not in [*EMPTY, "products_held", "relationship_closed"]]
    pd.testing.assert_frame_equal(world.monthly[kept], bank.monthly[kept])
    assert world.monthly["relationship_closed"].sum() > 50  # the closures the extract hides
    pd.testing.assert_frame_equal(world.oracle, bank.oracle)


# --- determinism, and the default bank untouched ----------------------------------------------

def test_same_seed_same_bank_different_seed_different(bank):
    again = warehouse_bank(CFG, seed=SEED, events=True)
    assert _digest(again.clients, again.monthly, again.oracle, again.events) == \
        _digest(bank.clients, bank.monthly, bank.oracle, bank.events)
    other = warehouse_bank(CFG, seed=SEED + 1, clients=300)
    assert _digest(other.monthly) != _digest(warehouse_bank(CFG, seed=SEED, clients=300).monthly)
    assert other.events is None


def test_the_default_profile_ignores_the_warehouse_section():
    changed = DataConfig(oracle=CFG.oracle, warehouse=WarehouseConfig(clients=10, empty_columns=()))
    kw = {"clients": 300, "months": 14, "seed": 3}
    a = generate_profile(DataConfig(oracle=CFG.oracle), "default", **kw)
    b = generate_profile(changed, "default", **kw)
    c = generate_bank(DataConfig(oracle=CFG.oracle), **kw)
    assert _digest(a.clients, a.monthly, a.oracle) == _digest(b.clients, b.monthly, b.oracle) \
        == _digest(c.clients, c.monthly, c.oracle)
    assert a.events is None
    fp = {"clients": 300, "months": 14, "seed": 3, "start": "2023-01-01", "dirty": False}
    default = bank_fingerprint(DataConfig(), **fp)
    assert default == bank_fingerprint(changed.model_copy(update={"oracle": DataConfig().oracle}), **fp)
    assert default != bank_fingerprint(DataConfig(), **fp, profile="warehouse")
    assert bank_fingerprint(DataConfig(), **fp, profile="warehouse") != \
        bank_fingerprint(DataConfig(), **fp, profile="warehouse", events=True)


def test_unknown_empty_column_is_a_config_error():
    with pytest.raises(ValidationError, match="'days_past_due' is not a numeric monthly column"):
        WarehouseConfig(empty_columns=("days_past_due",))
    with pytest.raises(ValidationError, match="'segment' is not a numeric monthly column"):
        WarehouseConfig(empty_columns=("segment",))


# --- the events the bank records ---------------------------------------------------------------

def test_events_are_the_recorded_defaults_one_per_defaulter(bank):
    events = check_events(bank.events)
    assert set(events["kind"]) == {"default"} and len(events) >= 5
    assert events["client_id"].is_unique
    m = bank.monthly.set_index(["client_id", "month"])["days_past_due"]
    for client, month in events[["client_id", "month"]].itertuples(index=False):
        rows = m.loc[client]
        if month < rows.index.min():  # in default before the extract began
            assert rows.iloc[0] >= 90
        else:
            assert rows.loc[month] >= 90
            assert (rows.loc[:month - pd.DateOffset(months=1)] < 90).all()
    defaulters = set(bank.monthly.loc[bank.monthly["days_past_due"] >= 90, "client_id"])
    assert set(events["client_id"]) == defaulters


def test_recorded_defaults_of_a_tiny_history():
    monthly = pd.DataFrame({
        "client_id": ["A", "A", "A", "A", "B", "B", "C"],
        "month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01",
                                 "2024-01-01", "2024-02-01", "2024-02-01"]),
        "days_past_due": [0, 95, 30, 120, 100, 130, 10],
    })
    events = recorded_defaults(monthly, 90)
    assert events.to_dict("list") == {
        "client_id": ["A", "A", "B"],
        "month": [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-04-01"), pd.Timestamp("2023-12-01")],
        "kind": ["default", "default", "default"],
    }


def test_labels_build_on_the_profile_and_churn_comes_from_dormancy_alone(bank):
    config = FeatureConfig()
    plain = label_history(bank.monthly, config)
    with_events = label_history(bank.monthly, config, events=bank.events)
    # the bank records defaults where days past due would find them, and no closures
    pd.testing.assert_frame_equal(plain, with_events)
    churn = plain.loc[plain["churn_complete"], "churn_6m"]
    assert 0.02 < churn.mean() < 0.3  # no closure flag anywhere: dormancy and leaving the extract
    default = plain.loc[plain["default_complete"], "default_12m"].dropna()
    assert 0 < default.sum() < 0.1 * len(default)


def test_base_rates_read_the_events_the_bank_records(bank):
    config = FeatureConfig()
    plain = label_base_rates(bank.monthly, config)
    assert label_base_rates(bank.monthly, config, events=bank.events) == plain
    closures = pd.DataFrame({"client_id": bank.clients["client_id"].iloc[:300],
                             "month": pd.Timestamp("2024-10-01"), "kind": "closure"})
    recorded = label_base_rates(bank.monthly, config, events=pd.concat([bank.events, closures]))
    assert recorded["churn_6m"] > plain["churn_6m"]
    assert recorded["default_12m"] == plain["default_12m"]


# --- the command ---------------------------------------------------------------------------------

def test_cli_writes_the_warehouse_bank_and_its_events(tmp_path):
    out = tmp_path / "bank"
    args = ["generate", "--profile", "warehouse", "--clients", "300", "--seed", "5", "--out", str(out)]
    result = runner.invoke(app, [*args, "--events"])
    assert result.exit_code == 0, result.output
    assert "warehouse profile: no closure records" in result.output
    assert "recorded defaults" in result.output
    monthly = pd.read_parquet(out / "monthly.parquet")
    assert monthly["month"].nunique() == 21 and not monthly["relationship_closed"].any()
    first = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    assert set(first) == {"clients.parquet", "monthly.parquet", "oracle.parquet", "events.parquet"}
    check_events(pd.read_parquet(out / "events.parquet"))
    assert runner.invoke(app, [*args, "--events"]).exit_code == 0
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == first
    # without --events (or for the default bank) a stale events table is removed
    assert runner.invoke(app, args).exit_code == 0
    assert not (out / "events.parquet").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--events"], "--events needs --profile warehouse (the default bank records its closures and defaults "
                   "in monthly)"),
    (["--profile", "bank2"], "--profile: 'bank2' is not a profile; one of default, warehouse"),
    (["--profile", "warehouse", "--dirty"], "--dirty works on the default profile only: its unknown-branch "
                                            "defect needs the branch list the warehouse bank does not supply"),
])
def test_cli_profile_mistakes_are_user_errors(tmp_path, extra, message):
    result = runner.invoke(app, ["generate", "--clients", "50", "--months", "3", "--out", str(tmp_path), *extra])
    assert isinstance(result.exception, TierwiseError)
    assert str(result.exception) == message
    assert not list(tmp_path.glob("*.parquet"))


def test_default_profile_files_equal_the_plain_command(tmp_path):
    base = ["generate", "--clients", "120", "--months", "14", "--seed", "2"]
    assert runner.invoke(app, [*base, "--out", str(tmp_path / "a")]).exit_code == 0
    assert runner.invoke(app, [*base, "--profile", "default", "--out", str(tmp_path / "b")]).exit_code == 0
    for name in ("clients.parquet", "monthly.parquet", "oracle.parquet", "_generated.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert not (tmp_path / "a" / "events.parquet").exists()
