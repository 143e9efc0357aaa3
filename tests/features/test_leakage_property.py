"""Leakage guard (a): features at t do not change when anything after t changes."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from feature_bank import make_bank, month_at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.features import MONTHLY_COLUMNS, FeatureConfig, snapshot_features

N_MONTHS = 20
CLIENTS, MONTHLY = make_bank(n_clients=6, n_months=N_MONTHS, seed=11)
CONFIG = FeatureConfig()
VALUE_COLUMNS = [c.name for c in MONTHLY_COLUMNS if c.kind in ("int", "float")]


@st.composite
def future_changes(draw):
    """A snapshot month t and a rewrite of the monthly table that only touches months > t."""
    t = draw(st.integers(min_value=1, max_value=N_MONTHS - 2))
    cutoff = pd.Timestamp(month_at(t))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    monthly = MONTHLY.copy()
    after = (monthly["month"] > cutoff).to_numpy()
    # 1. new values in some columns of the rows after t
    for column in draw(st.lists(st.sampled_from(VALUE_COLUMNS), max_size=6, unique=True)):
        new = rng.integers(0, 1000, after.sum()) if monthly[column].dtype.kind == "i" else rng.normal(0, 1e5, after.sum())
        monthly.loc[after, column] = new
    if draw(st.booleans()):
        monthly.loc[after, "relationship_closed"] = rng.random(after.sum()) < 0.3
    # 2. rows after t removed
    if draw(st.booleans()):
        drop = after & (rng.random(len(monthly)) < draw(st.floats(0.05, 1.0)))
        monthly = monthly.loc[~drop]
    # 3. rows after t added: later months for existing clients, and clients that appear later
    extra = []
    if draw(st.booleans()):
        template = MONTHLY.sample(n=draw(st.integers(1, 5)), random_state=int(rng.integers(1 << 30)))
        for k, (_, row) in enumerate(template.iterrows()):
            row = row.copy()
            row["month"] = pd.Timestamp(month_at(N_MONTHS + k))
            extra.append(row)
    if draw(st.booleans()):
        row = MONTHLY.iloc[0].copy()
        row["client_id"] = "C9999"
        row["month"] = pd.Timestamp(month_at(t + 1))
        extra.append(row)
    if extra:
        monthly = pd.concat([monthly, pd.DataFrame(extra).astype(MONTHLY.dtypes.to_dict())], ignore_index=True)
    # 4. row order shuffled
    monthly = monthly.sample(frac=1.0, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)
    return t, monthly


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(future_changes())
def test_features_at_t_ignore_everything_after_t(case):
    t, changed = case
    after = snapshot_features(CLIENTS, changed, month_at(t), CONFIG)
    pd.testing.assert_frame_equal(_unchanged(t), after)


@functools.cache
def _unchanged(t: int) -> pd.DataFrame:
    return snapshot_features(CLIENTS, MONTHLY, month_at(t), CONFIG)


def test_the_property_can_fail():
    """Sanity check of the test itself: a change at t does change the features at t."""
    t = 10
    changed = MONTHLY.copy()
    changed.loc[changed["month"] == pd.Timestamp(month_at(t)), "deposit_time"] += 1e6
    before = snapshot_features(CLIENTS, MONTHLY, month_at(t), CONFIG)
    after = snapshot_features(CLIENTS, changed, month_at(t), CONFIG)
    assert not before.equals(after)
