"""The synthetic bank's network of firms: ownership, guarantees and payment flows among SME clients.

Planted structure, with the truth kept in the group oracle (`network_oracle`):

- **control groups**: a share of the SME clients is split into groups of `group_size` firms;
  in each group every firm but the first is controlled (share above 0.5) by an earlier one
  (a tree), and some controlled firms guarantee their parent's debt. Minority stakes (share
  below 0.5) between unrelated firms and stakes in non-clients are drawn too: they join no one.
- **dependence groups**: other SME clients are hubs; each hub has `dependents` firms that
  receive `dependence_share` of their flows from it (the hub is their main customer).
- every SME client pays suppliers and receives from customers each month: non-clients
  (`X...` ids: never names) and a few other clients, with weights spread so that no one
  counterparty but a planted hub takes half of a firm's flows (by chance it sometimes does:
  the recovered groups are not perfect by construction).

The oracle's `control_group` is the planted control group (the smallest member id), and
`dependence_group` the planted group under control and dependence together. The network has
its own random stream (from the bank's seed), so the other tables are the same with it or
without it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tierwise.features import CLIENT_KEY, MONTH_KEY, connected_groups
from tierwise.synthetic._config import NetworkConfig

NETWORK_STREAM = 0x6E7
"""Spawn key of the network's random stream: SeedSequence([seed, NETWORK_STREAM])."""


@dataclass(frozen=True)
class Network:
    relations: pd.DataFrame
    oracle: pd.DataFrame  # client_id, control_group, dependence_group (SME clients)


def generate_network(clients: pd.DataFrame, dates: list[dt.date], cfg: NetworkConfig, seed: int) -> Network:
    """The relations table of the SME clients of `clients` over `dates`, and its group oracle."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, NETWORK_STREAM]))
    sme = np.sort(clients.loc[clients["segment"].eq("sme"), CLIENT_KEY].astype("str").to_numpy())
    n = len(sme)
    order = rng.permutation(n)
    # control groups over the first part of the shuffled firms
    n_control = int(round(cfg.control_share * n))
    lo, hi = cfg.group_size
    sizes = rng.integers(lo, hi + 1, size=max(n_control // lo, 1))
    sizes = sizes[np.cumsum(sizes) <= n_control]
    n_control = int(sizes.sum())
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    pos = np.arange(n_control) - starts  # position within the group
    members = order[:n_control]
    child = pos > 0
    parent = members[starts[child] + np.floor(rng.random(int(child.sum())) * pos[child]).astype(np.int64)]
    kid = members[child]
    control = _rows(sme[parent], sme[kid], "control", share=rng.uniform(0.51, 1.0, kid.size))
    guar = rng.random(kid.size) < cfg.guarantee_share
    guarantee = _rows(sme[kid[guar]], sme[parent[guar]], "guarantee", amount=np.round(rng.lognormal(13, 1, guar.sum()), 2))
    # dependence: hubs and their dependents, after the control groups
    free = order[n_control:]
    d_lo, d_hi = cfg.dependents
    n_hubs = int(round(cfg.dependence_hub_share * n))
    per_hub = rng.integers(d_lo, d_hi + 1, size=n_hubs)
    per_hub = per_hub[n_hubs + np.cumsum(per_hub) <= free.size]
    hubs = free[:per_hub.size]
    dependents = free[per_hub.size:per_hub.size + int(per_hub.sum())]
    hub_of = np.repeat(hubs, per_hub)
    # minority stakes between any two firms (different groups by construction: share < 0.5)
    k_min = int(round(cfg.minority_share * n))
    a, b = rng.integers(0, max(n, 1), size=(2, k_min)) if n else (np.array([], int), np.array([], int))
    ok = a != b
    minority = _rows(sme[a[ok]], sme[b[ok]], "control", share=rng.uniform(0.02, 0.45, int(ok.sum())))
    outside = rng.integers(0, cfg.non_clients, size=k_min)
    stakes = _rows(sme[a], _non_client(outside), "control", share=rng.uniform(0.02, 1.0, k_min))
    first = pd.Timestamp(dates[0])
    links = pd.concat([control, guarantee, minority, stakes], ignore_index=True).assign(**{MONTH_KEY: first})
    links = links.drop_duplicates([CLIENT_KEY, "counterparty_id", "kind"], keep="first")
    flows = _flows(sme, hub_of, dependents, dates, cfg, rng)
    relations = pd.concat([links, flows], ignore_index=True)[
        [CLIENT_KEY, "counterparty_id", "kind", "share", "amount", MONTH_KEY]]
    relations[MONTH_KEY] = relations[MONTH_KEY].astype("datetime64[ns]")
    control_edges = pd.DataFrame({CLIENT_KEY: sme[parent], "counterparty_id": sme[kid]})
    dep_edges = pd.DataFrame({CLIENT_KEY: sme[dependents], "counterparty_id": sme[hub_of]})
    oracle = pd.DataFrame({
        CLIENT_KEY: sme,
        "control_group": connected_groups(sme, control_edges).reindex(sme).to_numpy(),
        "dependence_group": connected_groups(sme, pd.concat([control_edges, dep_edges])).reindex(sme).to_numpy(),
    })
    return Network(relations, oracle)


def _non_client(codes: np.ndarray) -> np.ndarray:
    if codes.size == 0:
        return np.array([], dtype=object)
    return np.char.add("X", np.char.zfill(codes.astype("str"), 7)).astype(object)


def _rows(client: np.ndarray, counterparty: np.ndarray, kind: str, *, share: np.ndarray | None = None,
          amount: np.ndarray | None = None) -> pd.DataFrame:
    k = len(client)
    return pd.DataFrame({
        CLIENT_KEY: pd.array(client, dtype="str"), "counterparty_id": pd.array(counterparty, dtype="str"),
        "kind": kind, "share": np.full(k, np.nan) if share is None else np.round(share, 4),
        "amount": np.full(k, np.nan) if amount is None else amount,
    })


def _flows(sme: np.ndarray, hub_of: np.ndarray, dependents: np.ndarray, dates: list[dt.date],
           cfg: NetworkConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Monthly supplier and customer flows of every SME firm (one row per firm, counterparty, month)."""
    n, m = len(sme), len(dates)
    lo, hi = cfg.counterparties
    k = rng.integers(lo, hi + 1, size=n)
    firm = np.repeat(np.arange(n), k)
    is_client = rng.random(firm.size) < cfg.client_counterparty_share
    cp_client = rng.integers(0, max(n, 1), size=firm.size)
    cp_client = np.where(cp_client == firm, (cp_client + 1) % max(n, 1), cp_client)
    cp = np.where(is_client, sme[cp_client] if n else "", _non_client(rng.integers(0, cfg.non_clients, size=firm.size)))
    weight = rng.gamma(cfg.flow_spread, size=firm.size)
    kind = np.where(rng.random(firm.size) < 0.5, "supplier", "customer")
    once = ~pd.DataFrame({"f": firm, "c": cp, "k": kind}).duplicated().to_numpy()
    firm, cp, weight, kind = firm[once], cp[once], weight[once], kind[once]
    # the dependents' hub: one more counterparty holding dependence_share of the firm's flows
    dep_share = rng.uniform(*cfg.dependence_share, size=dependents.size)
    base = np.bincount(firm, weights=weight, minlength=n)
    extra_w = dep_share / (1 - dep_share) * base[dependents]
    firm = np.concatenate([firm, dependents])
    cp = np.concatenate([cp, sme[hub_of]])
    weight = np.concatenate([weight, extra_w])
    kind = np.concatenate([kind, np.full(dependents.size, "customer")])
    scale = rng.lognormal(11, 1.2, size=n)[firm]
    noise = rng.lognormal(0, cfg.flow_noise, size=(m, firm.size))
    amount = np.round(scale * weight / np.bincount(firm, weights=weight, minlength=n)[firm] * noise, 2)
    return pd.DataFrame({
        CLIENT_KEY: pd.array(np.tile(sme[firm], m), dtype="str"),
        "counterparty_id": pd.array(np.tile(cp, m), dtype="str"),
        "kind": np.tile(kind, m), "share": np.nan, "amount": amount.ravel(),
        MONTH_KEY: np.repeat(pd.to_datetime(pd.Series(dates)).to_numpy(), firm.size),
    })
