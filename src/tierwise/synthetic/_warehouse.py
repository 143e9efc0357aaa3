"""The `warehouse` profile: the synthetic world written the way a real bank's extract arrives.

`generate_profile(cfg, "warehouse", ...)` draws the world of `_bank` with the population of
`cfg.warehouse` (see `WarehouseConfig`) and then rewrites its tables as a retail bank's
warehouse extract looks once mapped onto the contract: no closure records, the bank's own
branch codes, zeros for the product columns it does not have. The rewrite is a pure function
of the simulated tables (no random numbers), so the same seed gives the same files. The
default profile is `generate_bank` itself, untouched.

The oracle is the world's: its realised churn still knows the closures the extract hides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Literal, get_args

import numpy as np
import pandas as pd

from tierwise.features import BALANCE_COLUMNS, CLIENT_KEY, MONTH_KEY, TierwiseError
from tierwise.synthetic._bank import SyntheticBank, generate_bank
from tierwise.synthetic._config import DataConfig, PopulationConfig, WarehouseConfig

Profile = Literal["default", "warehouse"]
PROFILES: tuple[Profile, ...] = get_args(Profile)


def generate_profile(cfg: DataConfig, profile: Profile, *, clients: int | None = None, months: int | None = None,
                     seed: int | None = None, start: dt.date | None = None, events: bool = False,
                     progress: Callable[[int], None] | None = None) -> SyntheticBank:
    """The bank of `profile`: `default` is `generate_bank`; `warehouse` is `warehouse_bank`.

    Sizes default to `cfg.bank` (default) or `cfg.warehouse` (warehouse). `events` (warehouse
    only) adds the events table the bank records."""
    if profile not in PROFILES:
        raise TierwiseError(f"unknown profile '{profile}'; one of {', '.join(PROFILES)}")
    if profile == "default":
        if events:
            raise TierwiseError("--events needs --profile warehouse (the default bank records its "
                                "closures and defaults in monthly)")
        return generate_bank(cfg, clients=clients, months=months, seed=seed, start=start, progress=progress)
    return warehouse_bank(cfg, clients=clients, months=months, seed=seed, start=start, events=events,
                          progress=progress)


def warehouse_bank(cfg: DataConfig, *, clients: int | None = None, months: int | None = None,
                   seed: int | None = None, start: dt.date | None = None, events: bool = False,
                   progress: Callable[[int], None] | None = None) -> SyntheticBank:
    """The world drawn with `cfg.warehouse`'s population, written as a warehouse extract."""
    w = cfg.warehouse
    world = cfg.model_copy(update={"population": w.population(cfg.population)})
    bank = generate_bank(world, clients=w.clients if clients is None else clients,
                         months=w.months if months is None else months, seed=seed,
                         start=w.start_date() if start is None else start, progress=progress)
    extract = warehouse_extract(bank, w, cfg.population)
    if events:
        extract = replace(extract, events=recorded_defaults(extract.monthly, cfg.labels.default_dpd))
    return extract


def warehouse_branch(code: str, population: PopulationConfig) -> str:
    """The bank's own code of a synthetic branch: `EA03` -> `0103` (region number, branch)."""
    region, k = code[:-2], int(code[-2:])
    return f"{population.regions.index(region) + 1:02d}{k:02d}"


def warehouse_extract(bank: SyntheticBank, w: WarehouseConfig, population: PopulationConfig) -> SyntheticBank:
    """`bank`'s tables as the warehouse extract of `WarehouseConfig`: the same clients and
    client-months, with no closure records, the bank's branch codes (and RM ids built on
    them), zeros in `w.empty_columns` and `products_held` counting the products left."""
    clients = bank.clients.copy()
    codes = {c: warehouse_branch(c, population) for c in clients["branch"].unique()}
    clients["branch"] = clients["branch"].map(codes).astype("str")
    rm = clients["rm_id"]
    has_rm = rm.notna()
    renamed = "RM" + clients["branch"] + rm.str.slice(-2)
    clients["rm_id"] = renamed.where(has_rm).astype("str")

    monthly = bank.monthly.copy()
    monthly["relationship_closed"] = False
    for name in w.empty_columns:
        monthly[name] = np.zeros(len(monthly), dtype=monthly[name].dtype)
    card = (monthly["card_limit"] > 0) | (monthly["card_balance"] > 0)
    held = sum((monthly[c] > 0).astype(np.int64) for c in BALANCE_COLUMNS)
    monthly["products_held"] = (held + card.astype(np.int64) + (monthly["loan_balance"] > 0)).astype(np.int64)
    return replace(bank, clients=clients, monthly=monthly, relations=None, group_oracle=None)  # a retail extract: no network


def recorded_defaults(monthly: pd.DataFrame, dpd_threshold: int) -> pd.DataFrame:
    """The events table of a bank that records its defaults and no closures: a `default` in
    the month a client's days past due reach `dpd_threshold` from below (the previous row).
    A client already past it in its first row defaulted before the extract: its event is the
    month before that row."""
    m = monthly.sort_values([CLIENT_KEY, MONTH_KEY], kind="stable")
    ids = m[CLIENT_KEY].to_numpy()
    hit = m["days_past_due"].to_numpy() >= dpd_threshold
    first = np.r_[True, ids[1:] != ids[:-1]]
    entry = hit & (first | ~np.r_[False, hit[:-1]])
    months = m[MONTH_KEY].to_numpy()[entry].astype("datetime64[M]")
    months = np.where(first[entry], months - np.timedelta64(1, "M"), months)
    return pd.DataFrame({
        CLIENT_KEY: pd.array(ids[entry], dtype="str"),
        MONTH_KEY: months.astype("datetime64[ns]"),
        "kind": pd.array(np.full(int(entry.sum()), "default"), dtype="str"),
    })
