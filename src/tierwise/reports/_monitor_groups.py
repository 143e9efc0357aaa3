"""The monitor's connected groups: concentration by group, large exposures, changes month to month.

Pure functions over the archived months (each row's `group_id`, kept by scoring when the bank
has a `relations` table; a client with no link is its own group):

- `group_concentration`: the top tiers' exposure and value by group -- HHI by group (beside the
  HHI by industry and region) and the share held by the `top_groups` largest groups;
- `group_limits`: the month's groups of two or more clients (`models.group_table`) against the
  bank's Tier 1 capital (`monitor.yaml` `groups.tier1_capital`; null, the default, compares
  nothing and flags nothing: a bank must set it), with an alert for each group over the limit;
- `group_changes`: against the baseline month, the groups that appeared, merged, split or
  dissolved, and those that crossed the reporting share or the limit (either way). Groups are
  matched by their members, not by id.

`groups_block` composes them into the monitor result's `groups` section. A month without group
ids (no relations table, or archived before group ids were kept) has no section but a note.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tierwise.features import CLIENT_KEY, GROUP_KEY, month_label
from tierwise.models import GroupsConfig, group_table
from tierwise.reports._config import ConcentrationConfig
from tierwise.reports._monitor import _alert, hhi, top_n_share

CHANGES_SHOWN = 50
"""Groups listed per kind of change (the counts cover all)."""
CHANGE_KINDS: tuple[str, ...] = ("appeared", "merged", "split", "dissolved")
LIMIT_FLAGS: dict[str, str] = {"reporting": "flag_reporting", "over_limit": "flag_over_limit"}


def groups_of(recs: pd.DataFrame) -> pd.Series | None:
    """`group_id` by client id of one month's rows; None when the month has none."""
    if GROUP_KEY not in recs.columns or recs[GROUP_KEY].isna().all():
        return None
    ids = recs[CLIENT_KEY].astype("str").to_numpy(dtype=object)
    group = recs[GROUP_KEY].to_numpy(dtype=object)
    group = np.where(pd.isna(group), ids, group)
    return pd.Series(group, index=pd.Index(ids, name=CLIENT_KEY), name=GROUP_KEY).astype("str")


def group_concentration(recs: pd.DataFrame, groups: pd.Series, cfg: GroupsConfig,
                        conc: ConcentrationConfig) -> dict[str, Any]:
    """HHI of the top tiers' exposure and value by group, and the `top_groups` largest groups'
    shares of them (each client outside a group counts as a group of its own)."""
    top = recs[recs["tier"].isin(conc.top_tiers).to_numpy()]
    group = top[CLIENT_KEY].astype("str").map(groups).fillna(top[CLIENT_KEY].astype("str"))
    exposure = pd.to_numeric(top[cfg.exposure_column], errors="coerce").fillna(0).clip(lower=0)
    value = pd.to_numeric(top[conc.value_column], errors="coerce").fillna(0).clip(lower=0)
    by = pd.DataFrame({"exposure": exposure.to_numpy(), "value": value.to_numpy(), "g": group.to_numpy()})
    sums = by.groupby("g").agg(clients=("exposure", "size"), exposure=("exposure", "sum"), value=("value", "sum"))
    sums = sums.sort_values(["exposure", "value"], ascending=False, kind="stable")
    n = cfg.top_groups
    total_exposure, total_value = sums["exposure"].sum(), sums["value"].sum()
    largest = sums.head(n).reset_index(names=GROUP_KEY)
    return {
        "groups": int(len(sums)),
        "groups_of_two_or_more": int((sums["clients"] > 1).sum()),
        "hhi_exposure": hhi(sums["exposure"]),
        "hhi_value": hhi(sums["value"]),
        "top_groups": n,
        "top_share_exposure": top_n_share(sums["exposure"], n),
        "top_share_value": top_n_share(sums["value"], n),
        "largest": [{GROUP_KEY: str(r[GROUP_KEY]), "top_tier_members": int(r["clients"]),
                     "exposure": float(r["exposure"]), "value": float(r["value"]),
                     "exposure_share": float(r["exposure"] / total_exposure) if total_exposure > 0 else None,
                     "value_share": float(r["value"] / total_value) if total_value > 0 else None}
                    for _, r in largest.iterrows()],
    }


def group_limits(recs: pd.DataFrame, groups: pd.Series, cfg: GroupsConfig) -> tuple[dict[str, Any], pd.DataFrame]:
    """(the section's large-exposure part, the month's `group_table`): the `top_groups` largest
    groups and every flagged one, the counts, and a note when `tier1_capital` is not set."""
    table = group_table(recs, groups, cfg)
    configured = cfg.tier1_capital is not None
    flagged = table["flag_reporting"].fillna(False).astype(bool) if configured else pd.Series(False, index=table.index)
    shown = table[(table.index < cfg.top_groups) | flagged.to_numpy()]
    note = ("" if configured else "monitor.yaml groups.tier1_capital is not set (null, the default): group exposure "
            "is not compared with capital and no group is flagged until the bank sets its Tier 1 capital")
    part = {
        "configured": configured,
        "tier1_capital": cfg.tier1_capital,
        "reporting_share": cfg.reporting_share,
        "limit_share": cfg.limit_share,
        "exposure_column": cfg.exposure_column,
        "note": note,
        "groups": int(len(table)),
        "reporting": int(table["flag_reporting"].fillna(False).astype(bool).sum()) if configured else None,
        "over_limit": int(table["flag_over_limit"].fillna(False).astype(bool).sum()) if configured else None,
        "table": [{k: _plain(v) for k, v in row.items()} for row in shown.to_dict(orient="records")],
    }
    return part, table


def limit_alerts(table: pd.DataFrame, cfg: GroupsConfig) -> list[dict[str, Any]]:
    """One alert per group over the limit (none while `tier1_capital` is not set)."""
    if cfg.tier1_capital is None:
        return []
    over = table[table["flag_over_limit"].fillna(False).astype(bool).to_numpy()]
    return [_alert("groups", "over_limit", "group", str(r[GROUP_KEY]), float(r["capital_share"]), cfg.limit_share,
                   f"group '{r[GROUP_KEY]}' ({int(r['members'])} clients) has exposure of {r['capital_share']:.1%} "
                   f"of Tier 1 capital (limit {cfg.limit_share:.0%})")
            for _, r in over.iterrows()]


def _multi(groups: pd.Series) -> pd.Series:
    """The clients of groups of two or more, with their group id."""
    return groups[groups.map(groups.value_counts()).to_numpy() > 1]


def group_changes(base_groups: pd.Series, cur_groups: pd.Series, base_table: pd.DataFrame,
                  cur_table: pd.DataFrame, *, configured: bool) -> dict[str, Any]:
    """The month's groups of two or more against the baseline's, matched by members:

    - `appeared`: a group none of whose members was in a group at the baseline;
    - `merged`: a group whose members come from two or more baseline groups;
    - `split`: a baseline group whose members still here are in two or more groups now, at least
      one of them a group of two or more;
    - `dissolved`: a baseline group none of whose members is in a group of two or more now;
    - `crossed` (with `configured` capital): a group now at or above the reporting share / over
      the limit none of whose members' baseline groups was (`up`), and a baseline group
      reported / over the limit none of whose members' groups now is (`down`).
    """
    before, now = _multi(base_groups), _multi(cur_groups)
    came = pd.DataFrame({"now": now, "before": before.reindex(now.index)})
    sources = came.groupby("now")["before"].agg(lambda s: sorted(set(s.dropna())))
    still = before[before.index.isin(cur_groups.index)]
    went = pd.DataFrame({"before": still, "now": cur_groups.reindex(still.index)})
    targets = went.groupby("before")["now"].agg(lambda s: sorted(set(s)))
    multi_now = set(now.unique())
    lists: dict[str, list[dict[str, Any]]] = {k: [] for k in CHANGE_KINDS}
    for group, prev in sources.items():
        if not prev:
            lists["appeared"].append({GROUP_KEY: group, "members": int((now == group).sum())})
        elif len(prev) >= 2:
            lists["merged"].append({GROUP_KEY: group, "members": int((now == group).sum()), "from": prev})
    for group in sorted(before.unique()):
        nxt = targets.get(group, [])
        grouped = [g for g in nxt if g in multi_now]
        if not grouped:
            lists["dissolved"].append({GROUP_KEY: group, "members_before": int((before == group).sum()),
                                       "members_now": int((went["before"] == group).sum())})
        elif len(nxt) >= 2:
            lists["split"].append({GROUP_KEY: group, "members_before": int((before == group).sum()),
                                   "into": list(nxt)})
    out: dict[str, Any] = {k: {"count": len(v), "groups": v[:CHANGES_SHOWN]} for k, v in lists.items()}
    out["crossed"] = _crossings(before, now, sources, targets, base_table, cur_table) if configured else None
    return out


def _crossings(before: pd.Series, now: pd.Series, sources: pd.Series, targets: pd.Series,
               base_table: pd.DataFrame, cur_table: pd.DataFrame) -> dict[str, Any]:
    crossed: dict[str, Any] = {}
    for name, flag in LIMIT_FLAGS.items():
        was = set(base_table.loc[base_table[flag].fillna(False).astype(bool).to_numpy(), GROUP_KEY])
        is_ = set(cur_table.loc[cur_table[flag].fillna(False).astype(bool).to_numpy(), GROUP_KEY])
        up = [{GROUP_KEY: g, "from": sources.get(g, [])} for g in sorted(is_)
              if not set(sources.get(g, [])) & was]
        down = [{GROUP_KEY: g, "into": [t for t in targets.get(g, []) if t in set(now.unique())]}
                for g in sorted(was) if not set(targets.get(g, [])) & is_]
        crossed[name] = {"up": up[:CHANGES_SHOWN], "down": down[:CHANGES_SHOWN],
                         "up_count": len(up), "down_count": len(down)}
    return crossed


def groups_block(base: pd.DataFrame, cur: pd.DataFrame, month: pd.Timestamp, baseline: pd.Timestamp,
                 cfg: GroupsConfig, conc: ConcentrationConfig) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the monitor's `groups` section, its alerts): see the module docstring."""
    cur_groups = groups_of(cur)
    if cur_groups is None:
        return {"available": False,
                "note": f"no connected groups for {month_label(month)}: the bank has no relations table, or the "
                        "month was archived before group ids were kept"}, []
    limits, cur_table = group_limits(cur, cur_groups, cfg)
    alerts = limit_alerts(cur_table, cfg)
    concentration = group_concentration(cur, cur_groups, cfg, conc)
    if np.isfinite(concentration["hhi_value"]) and concentration["hhi_value"] > conc.hhi_limit:
        alerts.append(_alert("concentration", "hhi", "group", None, concentration["hhi_value"], conc.hhi_limit,
                             f"HHI of top-tier value by group is {concentration['hhi_value']:.3f} "
                             f"(limit {conc.hhi_limit})"))
    base_groups = groups_of(base)
    if base_groups is None:
        changes: dict[str, Any] | None = None
        note = f"no connected groups for the baseline {month_label(baseline)}: no changes shown"
    else:
        _, base_table = group_limits(base, base_groups, cfg)
        changes = group_changes(base_groups, cur_groups, base_table, cur_table, configured=limits["configured"])
        note = ""
    block = {"available": True, "concentration": concentration,
             "concentration_baseline": None if base_groups is None else
             group_concentration(base, base_groups, cfg, conc),
             "limits": limits, "changes": changes, "changes_note": note}
    return block, alerts


def _plain(value: Any) -> Any:
    if value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
