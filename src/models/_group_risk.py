"""Groups of connected clients in the policy: group exposure against capital, and contagion.

`tierwise.features.groups_of_month` gives each client its group (control, guarantees,
economic dependence: see `tierwise.features._groups`). This module turns the month's
recommendations and those groups into

- `group_table`: one row per group of two or more clients -- members, exposure (the sum of the
  members' `credit_exposure`), the members' highest and exposure-weighted PD, their tiers and
  value, the exposure as a share of the bank's Tier 1 capital, and the two large-exposure flags
  (at or above `reporting_share`, above `limit_share`; Basel large-exposures framework: 10% and
  25%). Without `tier1_capital` (the default: a bank must set it) the shares and flags are empty;
- `apply_contagion`: a post-step of the policy. A member in default (`flag_in_default`) or in
  exit review (`flag_exit_review`) raises risk watch on every *other* member of its group, and
  the reason ("related firm in default" / "related firm in exit review", in English and Chinese)
  is appended to the tier reasons. It runs after the exit reviews have been carried forward, so
  risk watch raised by a related firm does not itself open a review; a member that is itself
  in default is left as it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from tierwise.features import CLIENT_KEY, GROUP_KEY, FrozenConfig
from tierwise.models._policy_config import PolicyConfig

TOP_TIERS: tuple[str, ...] = ("Premier", "Excellence")
_TIER_RANK = {"Premier": 0, "Excellence": 1, "Potential": 2, "General": 3}


class GroupsConfig(FrozenConfig):
    """Connected groups and large exposures (`groups:` in `configs/monitor.yaml`)."""

    dependence_share: float = Field(0.5, gt=0, le=1, description=(
        "economic dependence: a firm whose flows with one counterparty are at least this share of its "
        "supplier and customer flows in the month is joined to it"))
    tier1_capital: float | None = Field(None, gt=0, description=(
        "the bank's Tier 1 capital, in the bank's currency; null (the default): group exposure is not "
        "compared with capital and no group is flagged -- a bank must set it"))
    reporting_share: float = Field(0.10, gt=0, lt=1, description="a group's exposure at or above this share of "
                                                                 "Tier 1 capital is reported (large exposure)")
    limit_share: float = Field(0.25, gt=0, le=1, description="a group's exposure above this share of Tier 1 "
                                                             "capital is over the limit")
    exposure_column: str = Field("credit_exposure", description="the recommendations' column summed as exposure")
    top_groups: int = Field(10, ge=1, description="groups listed in the monitor, largest exposure first")
    leads_shown: int = Field(5, ge=1, description=(
        "supply-chain leads shown per core client on the RM page, largest flow first (the leads file has all)"))


def group_table(recs: pd.DataFrame, groups: pd.Series, cfg: GroupsConfig,
                value_column: str = "expected_value_12m") -> pd.DataFrame:
    """One row per group of two or more scored clients (see the module docstring), largest exposure first."""
    g = _with_groups(recs, groups)
    g = g[g.groupby(GROUP_KEY)[CLIENT_KEY].transform("size") > 1]
    exposure = g[cfg.exposure_column].fillna(0.0).clip(lower=0.0)
    pd_ = g["p_default"].astype(float) if "p_default" in g.columns else pd.Series(np.nan, index=g.index)
    g = g.assign(_exp=exposure, _pdx=pd_.fillna(0.0) * exposure, _pd=pd_,
                 _rank=g["tier"].map(_TIER_RANK), _top=g["tier"].isin(TOP_TIERS),
                 _value=g[value_column].clip(lower=0.0) if value_column in g.columns else 0.0,
                 _default=g["flag_in_default"].astype(bool) if "flag_in_default" in g.columns else False)
    by = g.groupby(GROUP_KEY, sort=True)
    out = pd.DataFrame({
        "members": by[CLIENT_KEY].size(),
        "member_ids": by[CLIENT_KEY].agg(lambda s: " ".join(sorted(s))),
        "exposure": by["_exp"].sum(),
        "pd_max": by["_pd"].max(),
        "pd_weighted": by["_pdx"].sum() / by["_exp"].sum().replace(0.0, np.nan),
        "members_in_default": by["_default"].sum().astype("int64"),
        "top_tier_members": by["_top"].sum().astype("int64"),
        "best_tier": by["_rank"].min().map({v: k for k, v in _TIER_RANK.items()}),
        "value": by["_value"].sum(),
    })
    if cfg.tier1_capital is None:
        out["capital_share"] = np.nan
        out["flag_reporting"] = pd.array([pd.NA] * len(out), dtype="boolean")
        out["flag_over_limit"] = pd.array([pd.NA] * len(out), dtype="boolean")
    else:
        out["capital_share"] = out["exposure"] / cfg.tier1_capital
        out["flag_reporting"] = (out["capital_share"] >= cfg.reporting_share).astype("boolean")
        out["flag_over_limit"] = (out["capital_share"] > cfg.limit_share).astype("boolean")
    out = out.rename_axis(GROUP_KEY).reset_index()
    return out.sort_values(["exposure", GROUP_KEY], ascending=[False, True], ignore_index=True)


def contagion_templates(policy: PolicyConfig, lang: str) -> tuple[str, str]:
    """(related firm in default, related firm in exit review) sentences of `lang`."""
    return policy.reason_template(lang, "related_default"), policy.reason_template(lang, "related_exit_review")


def apply_contagion(recs: pd.DataFrame, groups: pd.Series | None, policy: PolicyConfig) -> pd.DataFrame:
    """`recs` with risk watch raised on the other members of a group holding a client in default
    or in exit review, and the reason appended to `tier_reason_en` / `tier_reason_zh` (a related
    firm in default is said before one in exit review). No groups: `recs` unchanged."""
    if groups is None or recs.empty:
        return recs
    g = _with_groups(recs, groups)[GROUP_KEY].to_numpy()
    default = recs["flag_in_default"].to_numpy(dtype=bool)
    review = recs["flag_exit_review"].to_numpy(dtype=bool)
    codes, inverse = np.unique(g, return_inverse=True)
    n_default = np.bincount(inverse, weights=default, minlength=len(codes))[inverse] - default
    n_review = np.bincount(inverse, weights=review, minlength=len(codes))[inverse] - review
    by_default, by_review = n_default > 0, (n_review > 0) & ~(n_default > 0)
    hit = (by_default | by_review) & ~default  # a client in default is past risk watch
    by_default, by_review = by_default & hit, by_review & hit
    if not hit.any():
        return recs
    out = recs.copy()
    out["flag_risk_watch"] = out["flag_risk_watch"].to_numpy(dtype=bool) | hit
    for lang, column in (("en", "tier_reason_en"), ("zh", "tier_reason_zh")):
        sep = policy.reasons[lang].separator  # type: ignore[index]
        in_default, in_review = contagion_templates(policy, lang)
        extra = np.where(by_default, sep + in_default, np.where(by_review, sep + in_review, ""))
        out[column] = (out[column].astype("str") + extra).astype(recs[column].dtype)
    return out


def _with_groups(recs: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """`recs` with `group_id` (a client without a group is its own)."""
    ids = recs[CLIENT_KEY].astype("str")
    group = groups.reindex(ids.to_numpy()).to_numpy(dtype=object)
    group = np.where(pd.isna(group), ids.to_numpy(dtype=object), group)
    return recs.assign(**{GROUP_KEY: group})
