"""The injected shift (`shift:` in data.yaml): off by default bit for bit; when on, only the
named industry's balances move, from the shift month on; deterministic; one-line errors."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pytest

from tierwise.config import load_config
from tierwise.features import ConfigError
from tierwise.synthetic import (
    DataConfig,
    OracleConfig,
    ShiftConfig,
    bank_fingerprint,
    generate_bank,
    write_bank,
)

START = dt.date(2023, 1, 1)
MONTHS, CLIENTS, SEED = 26, 600, 13
SHIFT_AT = 20  # 2024-09
ORACLE = OracleConfig(pairs=120, snapshots=2, futures=64)
BALANCES = ["deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance"]


def _digest(bank) -> str:
    h = hashlib.sha256()
    for df in (bank.clients, bank.monthly, bank.oracle):
        h.update(repr(list(zip(df.columns, map(str, df.dtypes), strict=True))).encode())
        h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()


def _bank(cfg: DataConfig):
    return generate_bank(cfg, clients=CLIENTS, months=MONTHS, seed=SEED, start=START)


def _shifted_cfg(**kw) -> DataConfig:
    shift = {"industry": "technology", "from_month": SHIFT_AT, "deposit_outflow": 0.6, "ramp_months": 3} | kw
    return DataConfig(oracle=ORACLE, shift=ShiftConfig(**shift))


@pytest.fixture(scope="module")
def pair():
    """(unshifted, shifted) banks of the same seed."""
    return _bank(DataConfig(oracle=ORACLE)), _bank(_shifted_cfg())


def test_no_shift_is_the_default_bank_bit_for_bit(tmp_path):
    yaml_path = tmp_path / "data.yaml"
    yaml_path.write_text("oracle: {pairs: 120, snapshots: 2, futures: 64}\nshift: null\n", encoding="utf-8")
    from_yaml = load_config(yaml_path, DataConfig)
    default = DataConfig(oracle=ORACLE)
    assert from_yaml.shift is None and from_yaml == default
    a, b = _bank(default), _bank(from_yaml)
    assert _digest(a) == _digest(b)
    kw = {"clients": CLIENTS, "months": MONTHS, "seed": SEED, "start": START.isoformat(), "dirty": False}
    # the fingerprint of a bank without a shift does not even mention the switch
    assert bank_fingerprint(default, **kw) == bank_fingerprint(from_yaml, **kw)
    assert bank_fingerprint(default, **kw) != bank_fingerprint(_shifted_cfg(), **kw)
    for name, bank in (("a", a), ("b", b)):
        write_bank(bank, tmp_path / name, seed=SEED, fingerprint=bank_fingerprint(default, **kw))
    for f in ("clients.parquet", "monthly.parquet", "oracle.parquet", "_generated.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_shifted_bank_is_deterministic_and_differs_from_the_default(pair):
    plain, shifted = pair
    assert _digest(_bank(_shifted_cfg())) == _digest(shifted)
    assert _digest(shifted) != _digest(plain)


def test_only_the_shifted_industry_changes_and_only_from_the_shift_month(pair):
    plain, shifted = pair
    pd.testing.assert_frame_equal(plain.clients, shifted.clients)
    a, b = plain.monthly, shifted.monthly
    pd.testing.assert_frame_equal(a[["client_id", "month"]], b[["client_id", "month"]])
    industry = a["client_id"].map(plain.clients.set_index("client_id")["industry"])
    t = (a["month"].dt.year - START.year) * 12 + (a["month"].dt.month - START.month)
    untouched = (industry != "technology") | (t < SHIFT_AT)
    assert untouched.sum() > 0.8 * len(a)
    pd.testing.assert_frame_equal(a[untouched], b[untouched])

    tech_after = (industry == "technology") & (t >= SHIFT_AT)
    changed = (a.loc[tech_after, BALANCES].to_numpy() != b.loc[tech_after, BALANCES].to_numpy()).any(axis=1)
    assert changed.mean() > 0.8  # every tech client still holding money (closed rows are zero)
    # after the ramp the whole outflow has left: 40% of the assets remain (to the cent)
    total_a, total_b = a[BALANCES].sum(axis=1), b[BALANCES].sum(axis=1)
    onboard = a["client_id"].map(plain.clients.set_index("client_id")["onboarding_month"])
    early = onboard <= pd.Timestamp(2024, 9, 1)  # clients joining mid-ramp lose only the rest of it
    done = tech_after & early & (t >= SHIFT_AT + 3) & (total_a > 1_000)
    assert done.sum() > 20
    np.testing.assert_allclose(total_b[done] / total_a[done], 0.4, rtol=2e-3)
    first = tech_after & early & (t == SHIFT_AT) & (total_a > 1_000)
    np.testing.assert_allclose(total_b[first] / total_a[first], 0.4 ** (1 / 3), rtol=2e-3)
    # the money leaves as outgoing transfers during the ramp
    ramp = tech_after & (t < SHIFT_AT + 3)
    moved = b.loc[ramp, "mobile_txn_amount"].sum() - a.loc[ramp, "mobile_txn_amount"].sum()
    lost = (total_a[ramp] - total_b[ramp]).clip(lower=0).sum()
    assert moved > 0.3 * lost > 0


def test_the_oracle_changes_for_the_shifted_industry_only(pair):
    plain, shifted = pair
    industry = plain.oracle["client_id"].map(plain.clients.set_index("client_id")["industry"])
    other = (industry != "technology").to_numpy()
    pd.testing.assert_frame_equal(plain.oracle[other], shifted.oracle[other])


def test_from_month_as_yyyy_mm_equals_the_month_index():
    cfg = _shifted_cfg(from_month="2024-09")
    assert cfg.shift.first_index(START, MONTHS) == SHIFT_AT
    assert ShiftConfig(industry="finance").first_index(START, MONTHS) == MONTHS // 2


@pytest.mark.parametrize(("shift", "message"), [
    ({"industry": "tech"}, "shift.industry 'tech' is not one of population.industries: manufacturing,"),
    ({"industry": "finance", "from_month": "2024-13"}, "write the month as YYYY-MM"),
    ({"industry": "finance", "deposit_outflow": 1.2}, "deposit_outflow"),
    ({"industry": "finance", "colour": "red"}, "colour"),
])
def test_bad_shift_config_is_a_one_line_config_error(tmp_path, shift, message):
    import yaml

    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump({"shift": shift}), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, DataConfig)
    assert message in str(err.value)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_shift_outside_the_window_is_an_error_naming_the_window():
    cfg = DataConfig(oracle=OracleConfig(pairs=0), shift=ShiftConfig(industry="finance", from_month="2025-06"))
    with pytest.raises(ConfigError, match=r"shift.from_month 2025-06 is outside the simulated months "
                                          r"2023-01\.\.2024-02 \(month index 0\.\.13\)"):
        generate_bank(cfg, clients=50, months=14, seed=1, start=START)
