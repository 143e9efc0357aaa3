"""The tier policy: risk-adjusted expected value, tiers, channels, flags and their reasons.

Three steps, kept apart so that a single client, a chunk, a Spark partition and the whole
base all get the same answer:

1. `resolve_thresholds(policy, population)` turns quantile thresholds into absolute
   expected-value cut points on a reference population (once, at training or scoring time);
   the result, a `ResolvedPolicy`, is plain data (JSON) and travels with the recommender.
2. `recommend(frame, resolved)` decides per client; row i of the output depends only on row i
   of the input.
3. `apply_rm_capacity(recs, resolved)` is the batch step: relationship-manager capacity, which
   needs to see every client at once. It changes channels and flags, never tiers.

Value (amounts in the bank's currency, `H = horizon_months`, 12 by default):

    net value (monthly)   = contribution_monthly - cost_to_serve_monthly
    value if retained     = H x net x exp(growth)    if net > 0
                          = H x net                  otherwise (asset growth does not make a
                                                      loss-making client lose more)
    P(stay over H)        = (1 - p_churn) ^ (H / churn_horizon_months)   (constant hazard:
                                                      a 6-month churn probability, squared)
    PD over H             = 1 - (1 - p_default) ^ (H / default_horizon_months)
    expected credit loss  = PD over H x LGD(segment) x credit_exposure
    expected value (EV)   = P(stay) x value if retained - expected credit loss
    value if retained, risk-adjusted = value if retained - expected credit loss

`growth` is the predicted 12-month log growth, clipped to +-`growth_clip`. EV never falls when
contribution or growth rises, and never rises when PD rises.

Tier rules, in order (tiers ranked General < Potential < Excellence < Premier):

1. band: the highest tier whose EV cut point the client reaches (General below Potential's);
2. asset floor: Premier needs `assets_total >= asset_floor.premier`, Excellence needs
   `>= asset_floor.excellence`; a client above its floor's reach falls to the highest tier
   it meets (at least Potential);
3. growth lift: a General client with growth >= `growth_lift.min_growth` and
   EV >= `growth_lift.min_expected_value` is lifted to Potential;
4. risk gate: when PD > `risk.pd_limit` or PD is rising fast (`p_default >= rising_factor x
   p_default_prev` and `p_default >= rising_min_pd`), the client is not upgraded: the tier is
   at most `tier_prev` when known, at most `risk.cap_without_history` otherwise.

Flags:
- `flag_risk_watch`: the risk gate is on (PD above the limit or rising fast), whatever the tier;
- `flag_exit_review`: risk watch on a client the relationship managers maintain: `tier_prev`
  and the tier are both served by relationship managers (Premier and Excellence by default);
  a client without tier history never enters it (the exit mechanism is for clients the bank
  already placed high). Month after month, `models.advance_reviews` turns the flag into a
  review that opens, holds, closes or ends in a recommended downgrade;
- `flag_retention_priority`: `p_churn >= retention.min_p_churn`, the risk-adjusted value if
  retained reaches the cut of `retention.min_value_tier`, and no risk watch (the bank does not
  fight to keep a client it reviews for exit);
- `flag_cost_review`: contribution below `cost_review.ratio x` cost to serve, with the reason;
- `flag_growth_lead`: a Potential client, no risk watch, positive growth, whose risk-adjusted
  value if retained reaches the Excellence cut and whose assets grown by the prediction reach
  the Excellence floor: if the client stays and grows as predicted, Excellence is in reach;
- `flag_rm_overflow`: set by `apply_rm_capacity` only.

Tasks without a model (`ResolvedPolicy.tasks` lists the ones the bank has): the policy uses
`policy.assumptions` in their place (a churn base rate for P(stay), a PD or "not assessed"
for the expected credit loss, neutral growth), turns off the rules and flags that need the
missing score (risk gate, risk watch and exit review without default; retention priority
without churn; growth lift and growth lead without growth) and says what it assumed at the
end of every tier reason.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from tierwise.features import TASKS, DataError, FrozenConfig
from tierwise.models import _policy_text as text
from tierwise.models._policy_config import (
    CHANNEL_EN,
    CHANNEL_ZH,
    CHANNELS,
    TIER_ZH,
    TIERS,
    TIERS_BY_RANK,
    PolicyConfig,
    ReasonTemplates,
)
from tierwise.models._policy_inputs import PolicyRows, Table, numbers_of, validate_policy_inputs

logger = logging.getLogger(__name__)

GENERAL, POTENTIAL, EXCELLENCE, PREMIER = range(4)
_CUT_TIERS = TIERS_BY_RANK[1:]  # the tiers with a cut-off, lowest first

FLAG_COLUMNS: tuple[str, ...] = (
    "flag_retention_priority",
    "flag_risk_watch",
    "flag_in_default",
    "flag_exit_review",
    "flag_cost_review",
    "flag_growth_lead",
    "flag_rm_overflow",
)

OUTPUT_COLUMNS: tuple[str, ...] = (
    "client_id",
    "tier",
    "tier_zh",
    "channel",
    "channel_zh",
    "expected_value_12m",
    "value_if_retained_12m",
    "expected_credit_loss_12m",
    *FLAG_COLUMNS,
    "cost_review_reason",
    "cost_review_reason_zh",
    "tier_reason_en",
    "tier_reason_zh",
)
"""Columns of `recommend`'s output, in order (amounts over the policy horizon)."""


class ResolvedPolicy(FrozenConfig):
    """A policy with absolute expected-value cut points: what `recommend` needs, nothing more.

    `cuts` maps Potential / Excellence / Premier to the EV at or above which the band starts;
    `reference_size` is the number of clients the quantiles came from (0: absolute mode);
    `tasks` the tasks with a model, the others take `policy.assumptions`.
    `pd_limit`: the risk gate's PD limit (`risk.pd_limit`, or the PD at `risk.watch_share`
    when higher); `retention_cut` / `growth_cut`: the value at risk from churn and the value
    gained from growth at which the `retention.share` / `growth_lead.share` ranks end. None:
    the configured fixed rule (a policy resolved before the shares existed).
    """

    policy: PolicyConfig
    cuts: dict[Literal["Potential", "Excellence", "Premier"], float]
    reference_size: int = 0
    tasks: tuple[Literal["churn", "default", "growth"], ...] = TASKS  # type: ignore[assignment]
    pd_limit: float | None = None
    retention_cut: float | None = None
    growth_cut: float | None = None

    @property
    def risk_limit(self) -> float:
        """The PD above which the risk gate is on."""
        return self.policy.risk.pd_limit if self.pd_limit is None else self.pd_limit

    @property
    def assumed(self) -> tuple[str, ...]:
        """The tasks without a model, in `TASKS` order."""
        return tuple(t for t in TASKS if t not in self.tasks)


def assumption_notes(resolved: ResolvedPolicy, lang: str) -> list[str]:
    """What the policy assumes for each task without a model, one sentence each in `lang`
    (empty when every task has a model)."""
    policy = resolved.policy
    assumptions = policy.assumptions
    notes = []
    for task in resolved.assumed:
        if task == "churn":
            rate, horizon = text.percent_label(assumptions.p_churn), policy.churn_horizon_months
        elif task == "default":
            if assumptions.p_default is None:
                notes.append(policy.reason_template(lang, "risk_not_assessed"))
                continue
            rate, horizon = text.percent_label(assumptions.p_default), policy.default_horizon_months
        else:
            rate = text.format_growth(np.array([assumptions.growth]))[0].as_py()
            horizon = policy.horizon_months
        template = policy.reason_template(lang, f"assumed_{task}")
        notes.append(template.replace("{rate}", rate).replace("{horizon}", str(horizon)))
    return notes


def with_assumptions(frame: Table, resolved: ResolvedPolicy) -> Table:
    """`frame` with the scores of the tasks without a model set to `policy.assumptions` (no PD
    for clients without credit exposure, 0 for the others when default is not assessed);
    `frame` itself when every task has a model."""
    missing = resolved.assumed
    if not missing:
        return frame
    assumptions = resolved.policy.assumptions
    out = frame.copy(deep=False)
    n = len(out)
    if "churn" in missing:
        out["p_churn"] = np.full(n, assumptions.p_churn)
    if "growth" in missing:
        out["growth"] = np.full(n, assumptions.growth)
    if "default" in missing and "credit_exposure" in out.columns:
        exposure = (numbers_of(out, "credit_exposure") if isinstance(out, PolicyRows) else
                    pd.to_numeric(out["credit_exposure"], errors="coerce").to_numpy(dtype=float, na_value=np.nan))
        assumed = 0.0 if assumptions.p_default is None else assumptions.p_default
        out["p_default"] = np.where(exposure > 0, assumed, np.nan)
    return out


# --------------------------------------------------------------------------- value


def _value_arrays(frame: Table, policy: PolicyConfig) -> dict[str, np.ndarray]:
    """Element-wise value arithmetic (see the module docstring)."""
    horizon = float(policy.horizon_months)

    def col(name: str) -> np.ndarray:
        return numbers_of(frame, name)

    contribution = col("contribution_monthly")
    cost = col("cost_to_serve_monthly")
    net = contribution - cost
    growth = np.clip(col("growth"), -policy.growth_clip, policy.growth_clip)
    multiplier = np.exp(growth)
    retained = horizon * np.where(net > 0, net * multiplier, net)
    p_stay = (1.0 - col("p_churn")) ** (horizon / policy.churn_horizon_months)
    pd_raw = col("p_default")
    pd_clean = np.nan_to_num(pd_raw, nan=0.0)
    dpd = col("days_past_due") if "days_past_due" in frame.columns else np.full(len(frame), np.nan)
    in_default = (dpd >= policy.risk.in_default_dpd) & (col("credit_exposure") > 0)
    pd_horizon = 1.0 - (1.0 - pd_clean) ** (horizon / policy.default_horizon_months)
    pd_horizon = np.where(in_default, 1.0, pd_horizon)  # the default has happened: loss = LGD x EAD
    segments = list(policy.lgd_by_segment)
    segment_code = text.codes_of(frame["segment"], segments)
    lgd_table = np.array([*(policy.lgd_by_segment[s] for s in segments), policy.lgd])
    lgd = lgd_table[segment_code]  # code -1 (other segments) takes the default LGD
    loss = pd_horizon * lgd * col("credit_exposure")
    return {
        "contribution": contribution,
        "cost": cost,
        "net": net,
        "growth": growth,
        "multiplier": multiplier,
        "retained": retained,
        "loss": loss,
        "retained_adjusted": retained - loss,
        "ev": p_stay * retained - loss,
        "pd_raw": pd_raw,
        "pd": pd_clean,
        "dpd": dpd,
        "in_default": in_default,
        "value_at_risk": (1.0 - p_stay) * (retained - loss),
        "growth_gain": np.where(net > 0, horizon * net * (multiplier - 1.0), 0.0),
    }


def expected_value(frame: pd.DataFrame, policy: PolicyConfig) -> pd.Series:
    """Risk-adjusted expected value over the policy horizon, one per row of `frame`."""
    validate_policy_inputs(frame)
    return pd.Series(_value_arrays(frame, policy)["ev"], index=frame.index, name="expected_value")


def resolve_thresholds(
    policy: PolicyConfig, population: pd.DataFrame | None = None, tasks: tuple[str, ...] = TASKS
) -> ResolvedPolicy:
    """Absolute cut points: the configured amounts, or EV quantiles of `population`. `tasks`:
    the tasks with a model (the scores of the others in `population` are not read)."""
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise DataError(f"policy: unknown task(s) {', '.join(unknown)} (tasks: {', '.join(TASKS)})")
    tasks = tuple(t for t in TASKS if t in tasks)
    thresholds = policy.thresholds
    levels = {name: getattr(thresholds, name.lower()) for name in _CUT_TIERS}
    if thresholds.mode == "absolute":
        resolved = ResolvedPolicy(policy=policy, cuts=levels, reference_size=0, tasks=tasks)
        if population is None or len(population) == 0:
            if _shares(policy):
                logger.warning("policy: %s need a reference population; the fixed rules apply",
                               ", ".join(_shares(policy)))
            return resolved
        validate_policy_inputs(with_assumptions(population, resolved), source="reference population")
        return resolve_shares(resolved, population)
    if population is None or len(population) == 0:
        raise DataError(
            "policy thresholds are quantiles: a non-empty reference population is needed "
            "to resolve them into amounts"
        )
    population = with_assumptions(population, ResolvedPolicy(policy=policy, cuts=levels, tasks=tasks))
    validate_policy_inputs(population, source="reference population")
    ev = _value_arrays(population, policy)["ev"]
    smallest_share = 1.0 - thresholds.premier
    if len(ev) * smallest_share < 10:
        logger.warning(
            "reference population of %d clients is small for a top-%s quantile",
            len(ev),
            text.share_label(smallest_share),
        )
    cuts = {name: float(np.quantile(ev, q)) for name, q in levels.items()}
    logger.info("resolved EV cut points on %d clients: %s", len(ev), cuts)
    resolved = ResolvedPolicy(policy=policy, cuts=cuts, reference_size=len(ev), tasks=tasks)
    return resolve_shares(resolved, population)


_NONE_TAKEN = float(np.finfo(float).max)


def _shares(policy: PolicyConfig) -> list[str]:
    """The rank-based limits the policy configures (keys as in the YAML)."""
    given = {"risk.watch_share": policy.risk.watch_share, "retention.share": policy.retention.share,
             "growth_lead.share": policy.growth_lead.share}
    return [key for key, share in given.items() if share is not None]


def _rank_cut(values: np.ndarray, eligible: np.ndarray, count: int) -> float:
    """The value at which the `count` highest eligible `values` end (the largest float, which
    JSON keeps and no value reaches, when none is taken)."""
    chosen = np.sort(values[eligible & np.isfinite(values)])[::-1]
    if count <= 0 or len(chosen) == 0:
        return _NONE_TAKEN
    return float(chosen[min(count, len(chosen)) - 1])


def resolve_shares(resolved: ResolvedPolicy, population: pd.DataFrame) -> ResolvedPolicy:
    """`resolved` with the rank-based limits of the policy (`risk.watch_share`,
    `retention.share`, `growth_lead.share`) turned into amounts on `population`: the PD limit
    first (the riskiest share of borrowers not in default, never below `risk.pd_limit`), then,
    with that gate, the retention and growth-lead cuts (each share of all clients)."""
    policy = resolved.policy
    population = with_assumptions(population, resolved)
    n = len(population)
    update: dict[str, float | None] = {}
    has = set(resolved.tasks)
    if policy.risk.watch_share is not None and "default" in has:
        v = _value_arrays(population, policy)
        borrower = (population["credit_exposure"].to_numpy(dtype=float) > 0) & ~v["in_default"]
        k = int(round(policy.risk.watch_share * int(borrower.sum())))
        limit = _rank_cut(v["pd"], borrower, k + 1)  # PD above the (k+1)-th highest: k borrowers
        update["pd_limit"] = max(policy.risk.pd_limit, limit if limit < _NONE_TAKEN else 0.0)
    resolved = resolved.model_copy(update=update) if update else resolved
    shares = {"retention_cut": (policy.retention.share, "churn"), "growth_cut": (policy.growth_lead.share, "growth")}
    if any(share is not None and task in has for share, task in shares.values()):
        d = _decide(population, resolved)
        eligible = {
            "retention_cut": ~d["gated"] & (population["p_churn"].to_numpy(dtype=float) >= policy.retention.min_p_churn)
                             & (d["value_at_risk"] > 0),
            "growth_cut": ~d["gated"] & (d["tier"] <= POTENTIAL) & (d["growth_gain"] > 0),
        }
        values = {"retention_cut": d["value_at_risk"], "growth_cut": d["growth_gain"]}
        for key, (share, task) in shares.items():
            if share is not None and task in has:
                update[key] = _rank_cut(values[key], eligible[key], int(round(share * n)))
        resolved = resolved.model_copy(update=update)
    logger.info("resolved rank limits on %d clients: %s", n, update or "none configured")
    return resolved


# --------------------------------------------------------------------------- decisions


def _tier_codes(frame: Table) -> np.ndarray:
    """`tier_prev` as ranks; -1 where unknown or absent."""
    if "tier_prev" not in frame.columns:
        return np.full(len(frame), -1, dtype=np.int8)
    return text.codes_of(frame["tier_prev"], TIERS_BY_RANK)


def _decide(frame: Table, resolved: ResolvedPolicy) -> dict[str, np.ndarray]:
    policy = resolved.policy
    v = _value_arrays(frame, policy)
    ev = v["ev"]
    cuts = resolved.cuts
    band = (
        (ev >= cuts["Potential"]).astype(np.int8)
        + (ev >= cuts["Excellence"])
        + (ev >= cuts["Premier"])
    ).astype(np.int8)
    assets = numbers_of(frame, "assets_total")
    floor_reach = np.where(
        assets >= policy.asset_floor.premier,
        PREMIER,
        np.where(assets >= policy.asset_floor.excellence, EXCELLENCE, POTENTIAL),
    ).astype(np.int8)
    after_floor = np.minimum(band, floor_reach)
    has = set(resolved.tasks)
    lift = (
        ("growth" in has)
        & (after_floor == GENERAL)
        & (v["growth"] >= policy.growth_lift.min_growth)
        & (ev >= policy.growth_lift.min_expected_value)
    )
    candidate = np.where(lift, POTENTIAL, after_floor).astype(np.int8)

    risk = policy.risk
    pd_now = v["pd"]
    if "p_default_prev" in frame.columns:
        pd_prev = numbers_of(frame, "p_default_prev")
    else:
        pd_prev = np.full(len(frame), np.nan)
    rising = (
        ~np.isnan(pd_prev)
        & (pd_now >= risk.rising_factor * np.nan_to_num(pd_prev, nan=0.0))
        & (pd_now >= risk.rising_min_pd)
    )
    in_default = v["in_default"]
    above = (pd_now > resolved.risk_limit) & ("default" in has) & ~in_default
    rising = rising & ("default" in has) & ~in_default
    watch = above | rising
    gated = watch | in_default
    previous = _tier_codes(frame)
    known = previous >= 0
    cap = np.where(known, previous, TIERS_BY_RANK.index(risk.cap_without_history)).astype(np.int8)
    tier = np.where(gated, np.minimum(candidate, cap), candidate).astype(np.int8)
    capped = tier < candidate

    rm_rank = np.array([policy.channels[t] == "relationship_manager" for t in TIERS_BY_RANK])  # type: ignore[index]
    exit_review = gated & known & rm_rank[np.maximum(previous, 0)] & rm_rank[tier]
    p_churn = numbers_of(frame, "p_churn")
    if resolved.retention_cut is None:
        worth_keeping = v["retained_adjusted"] >= cuts[policy.retention.min_value_tier]
    else:
        worth_keeping = (v["value_at_risk"] >= resolved.retention_cut) & (v["value_at_risk"] > 0)
    retention = (
        ("churn" in has)
        & (p_churn >= policy.retention.min_p_churn)
        & worth_keeping
        & ~gated
    )
    cost_review = v["contribution"] < policy.cost_review.ratio * v["cost"]
    if resolved.growth_cut is None:
        growth_lead = (
            ("growth" in has)
            & (tier == POTENTIAL)
            & ~gated
            & (v["growth"] > 0)
            & (v["retained_adjusted"] >= cuts["Excellence"])
            & (assets * v["multiplier"] >= policy.asset_floor.excellence)
        )
    else:
        growth_lead = (("growth" in has) & (tier <= POTENTIAL) & ~gated & (v["growth_gain"] > 0)
                       & (v["growth_gain"] >= resolved.growth_cut))
    exposure = numbers_of(frame, "credit_exposure")
    no_credit = (exposure == 0) & (np.isnan(v["pd_raw"]) | (v["pd_raw"] == 0))
    return {
        **v,
        "assets": assets,
        "band": band,
        "after_floor": after_floor,
        "lift": lift,
        "candidate": candidate,
        "tier": tier,
        "capped": capped,
        "known": known,
        "above": above,
        "rising": rising,
        "pd_prev": pd_prev,
        "no_credit": no_credit,
        "not_assessed": np.full(len(frame), "default" not in has),
        "gated": gated,
        "risk_watch": watch,
        "exit_review": exit_review,
        "retention": retention,
        "cost_review": cost_review,
        "growth_lead": growth_lead,
    }


# --------------------------------------------------------------------------- reasons

_BAND, _BELOW, _FLOOR, _LIFT, _CAP_PREV, _CAP_NEW = range(6)
_NO_CREDIT, _RISK_OK, _RISK_ABOVE, _RISK_RISING, _RISK_BOTH, _RISK_NOT_ASSESSED, _IN_DEFAULT = range(7)
_COST_NONE, _COST_BELOW, _COST_NOT = range(3)


def _basis_codes(d: dict[str, np.ndarray]) -> np.ndarray:
    """Why the client has its tier: the last rule that changed it."""
    code = np.where(d["tier"] == GENERAL, _BELOW, _BAND)
    code = np.where(d["after_floor"] < d["band"], _FLOOR, code)
    code = np.where(d["lift"], _LIFT, code)
    code = np.where(d["capped"], np.where(d["known"], _CAP_PREV, _CAP_NEW), code)
    return code.astype(np.int8)


def _risk_codes(d: dict[str, np.ndarray]) -> np.ndarray:
    above, rising = d["above"], d["rising"]
    code = np.where(above & rising, _RISK_BOTH, np.where(above, _RISK_ABOVE, _RISK_OK))
    code = np.where(rising & ~above, _RISK_RISING, code)
    code = np.where(d["not_assessed"], _RISK_NOT_ASSESSED, code)
    code = np.where(d["in_default"], _IN_DEFAULT, code)
    return np.where(d["no_credit"], _NO_CREDIT, code).astype(np.int8)


def _fields(
    d: dict[str, np.ndarray], resolved: ResolvedPolicy, words: ReasonTemplates, lang: str
) -> dict[str, text.Field]:
    names, top_by_rank, cut_values, floors, constant = _static_fields(resolved, lang)

    def money(values: np.ndarray) -> text.Figures:
        return text.money_field(values, words.currency, lang)

    return {
        "tier": text.Labels(names, d["tier"]),
        "band": text.Labels(names, d["band"]),
        "candidate": text.Labels(names, d["candidate"]),
        "ev": money(d["ev"]),
        "top": text.Labels(top_by_rank, d["tier"]),
        "cut": money(cut_values[d["tier"]]),
        "assets": money(d["assets"]),
        "floor": money(floors[d["band"]]),
        "growth": text.growth_field(d["growth"]),
        "pd": text.percent_field(d["pd"]),
        "pd_prev": text.percent_field(d["pd_prev"]),
        "dpd": text.Figures(d["dpd"], np.asarray, _days_label),
        "contribution": money(d["contribution"]),
        "cost": money(d["cost"]),
        **constant,
    }


_STATIC: dict[tuple[int, str], tuple[ResolvedPolicy, tuple]] = {}


def _static_fields(resolved: ResolvedPolicy, lang: str) -> tuple:
    """What the reason fields take from the policy alone, worked out once per policy and
    language (a served request pays it per call otherwise): tier names, per tier rank the
    share above its cut, the cuts and the asset floors, and the fields that are one text."""
    held = _STATIC.get((id(resolved), lang))
    if held is not None and held[0] is resolved:
        return held[1]
    policy = resolved.policy
    names = TIERS_BY_RANK if lang == "en" else tuple(TIER_ZH[t] for t in TIERS_BY_RANK)
    quantiles = {
        "Potential": policy.thresholds.potential,
        "Excellence": policy.thresholds.excellence,
        "Premier": policy.thresholds.premier,
    }
    # per tier rank: the share above its cut and the cut (General shows Potential's)
    top_by_rank = [text.share_label(1.0 - quantiles[t]) for t in ("Potential", *_CUT_TIERS)]
    cut_values = np.array([resolved.cuts[t] for t in ("Potential", *_CUT_TIERS)])
    floors = np.array([0.0, 0.0, policy.asset_floor.excellence, policy.asset_floor.premier])
    constant = {
        "horizon": str(policy.horizon_months),
        "limit": (text.share_label(policy.risk.pd_limit) if resolved.pd_limit is None
                  else text.percent_label(float(text.percent_key(np.array([resolved.pd_limit]))[0]))),
        "watch_share": text.share_label(policy.risk.watch_share) if policy.risk.watch_share else "",
    }
    if len(_STATIC) > 64:
        _STATIC.clear()
    value = (names, top_by_rank, cut_values, floors, constant)
    _STATIC[(id(resolved), lang)] = (resolved, value)
    return value


def _days_label(days: float) -> str:
    return str(int(days)) if days == days else ""


def _literal(words: str) -> str:
    """`words` as literal template text (braces escaped)."""
    return words.replace("{", "{{").replace("}", "}}")


def _reason_codes(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Which sentence each row gets: tier reason (basis x risk clause) and cost review."""
    cost = np.where(
        d["cost_review"], np.where(d["contribution"] <= 0, _COST_NONE, _COST_BELOW), _COST_NOT
    )
    return {
        "tier": (_basis_codes(d).astype(np.int16) * 8 + _risk_codes(d)),
        "cost": cost.astype(np.int8),
    }


def _reasons(
    d: dict[str, np.ndarray], codes: dict[str, np.ndarray], resolved: ResolvedPolicy, lang: str
) -> dict[str, pa.Array]:
    """The tier reason ("<why this tier>; <default risk>") and the cost-review reason."""
    words = resolved.policy.reasons[lang]  # type: ignore[index]
    fields = _fields(d, resolved, words, lang)
    quantile = resolved.policy.thresholds.mode == "quantile"
    basis = {
        _BAND: words.band_quantile if quantile else words.band_absolute,
        _BELOW: words.below_quantile if quantile else words.below_absolute,
        _FLOOR: words.asset_floor,
        _LIFT: words.growth_lift,
        _CAP_PREV: words.risk_capped_previous,
        _CAP_NEW: words.risk_capped_new,
    }
    risk = {
        _NO_CREDIT: words.no_credit,
        _RISK_OK: words.risk_ok,
        _RISK_ABOVE: words.risk_above,
        _RISK_RISING: words.risk_rising,
        _RISK_BOTH: words.risk_above_rising,
        _RISK_NOT_ASSESSED: resolved.policy.reason_template(lang, "risk_not_assessed"),
        _IN_DEFAULT: resolved.policy.reason_template(lang, "in_default"),
    }
    separator = _literal(words.separator)
    notes = [note for task, note in zip(resolved.assumed, assumption_notes(resolved, lang), strict=True)
             if task != "default" or resolved.policy.assumptions.p_default is not None]
    # "not assessed" is already the risk clause; the notes on assumed scores close every reason
    closing = _literal(words.separator + words.separator.join(notes)) if notes else ""
    # one template per (basis, risk) pair: one Arrow pass per pair present, no extra join
    combined = {
        b * 8 + r: basis_text + separator + risk_text + closing
        for b, basis_text in basis.items()
        for r, risk_text in risk.items()
    }
    tier = text.render_by_code(codes["tier"], combined, fields)
    cost = text.render_by_code(
        codes["cost"],
        {_COST_NONE: words.cost_none, _COST_BELOW: words.cost_below, _COST_NOT: ""},
        fields,
    )
    return {"tier": tier, "cost": cost}


# --------------------------------------------------------------------------- public steps


def recommend(frame: pd.DataFrame, resolved: ResolvedPolicy) -> pd.DataFrame:
    """Tier, channel, expected value, flags and reasons per client (row-wise; same index).

    `frame` holds one row per client with the columns of `REQUIRED_COLUMNS` and optionally
    `p_default_prev` and `tier_prev`; see the module docstring for the rules.
    """
    result = pd.DataFrame(recommendation_columns(frame, resolved), index=frame.index)
    logger.debug("recommended tiers for %d clients", len(result))
    return result


def recommendation_columns(frame: pd.DataFrame, resolved: ResolvedPolicy) -> dict[str, object]:
    """`recommend`'s columns (`OUTPUT_COLUMNS`, in order) as arrays, without the frame: text
    as `str` arrays, amounts as float64, flags as bool (what a served client needs)."""
    decided = decision_arrays(frame, resolved)
    return {"client_id": frame["client_id"].array,
            **{c: text.to_array(v) if isinstance(v, pa.Array) else v for c, v in decided.items()}}


def decision_arrays(frame: Table, resolved: ResolvedPolicy) -> dict[str, np.ndarray | pa.Array]:
    """`OUTPUT_COLUMNS` but `client_id`, in order, for a frame or `PolicyRows`: text as Arrow
    string arrays, amounts as float64, flags as bool. The one decision of the batch and the
    served rows (`recommendation_columns` wraps it for frames)."""
    filled = with_assumptions(frame, resolved)
    validate_policy_inputs(filled)
    d = _decide(filled, resolved)
    policy = resolved.policy
    tier_rank = d["tier"]
    channel_of_rank = [policy.channels[t] for t in TIERS_BY_RANK]  # type: ignore[index]
    channel_rank = np.array([CHANNELS.index(c) for c in channel_of_rank], dtype=np.int8)[tier_rank]
    codes = _reason_codes(d)
    en = _reasons(d, codes, resolved, "en")
    zh = _reasons(d, codes, resolved, "zh")
    return {
        "tier": text.take_labels(TIERS_BY_RANK, tier_rank),
        "tier_zh": text.take_labels([TIER_ZH[t] for t in TIERS_BY_RANK], tier_rank),
        "channel": text.take_labels(CHANNELS, channel_rank),
        "channel_zh": text.take_labels([CHANNEL_ZH[c] for c in CHANNELS], channel_rank),
        "expected_value_12m": d["ev"],
        "value_if_retained_12m": d["retained"],
        "expected_credit_loss_12m": d["loss"],
        "flag_retention_priority": d["retention"],
        "flag_risk_watch": d["risk_watch"],
        "flag_in_default": d["in_default"],
        "flag_exit_review": d["exit_review"],
        "flag_cost_review": d["cost_review"],
        "flag_growth_lead": d["growth_lead"],
        "flag_rm_overflow": np.zeros(len(frame), dtype=bool),
        "cost_review_reason": en["cost"],
        "cost_review_reason_zh": zh["cost"],
        "tier_reason_en": en["tier"],
        "tier_reason_zh": zh["tier"],
    }


def rm_capacity(resolved: ResolvedPolicy, n_rms: int | None = None) -> int | None:
    """Clients the relationship managers can serve: `clients_per_rm x n_rms`, where `n_rms`
    comes from the config, else from the argument (e.g. distinct `rm_id` in the data); None
    means no limit."""
    config = resolved.policy.rm_capacity
    count = config.n_rms if config.n_rms is not None else n_rms
    return None if count is None else config.clients_per_rm * int(count)


def apply_rm_capacity(
    recs: pd.DataFrame, resolved: ResolvedPolicy, n_rms: int | None = None
) -> pd.DataFrame:
    """Batch step: relationship-manager clients beyond capacity go to the overflow channel.

    Clients kept by relationship managers are chosen by tier (Premier first), then expected
    value (highest first), then `client_id`; the rest keep their tier, move to
    `rm_capacity.overflow_channel`, get `flag_rm_overflow` and a sentence in their reasons.
    Returns a new frame; `recs` is not modified.
    """
    capacity = rm_capacity(resolved, n_rms)
    out = recs.copy()
    if capacity is None:
        logger.info("no relationship-manager capacity configured or given: no overflow")
        return out
    is_rm = (out["channel"] == "relationship_manager").to_numpy()
    rm_rows = np.flatnonzero(is_rm)
    if len(rm_rows) <= capacity:
        return out
    rank = out["tier"].map({t: i for i, t in enumerate(TIERS_BY_RANK)}).to_numpy()[rm_rows]
    ev = out["expected_value_12m"].to_numpy(dtype=float)[rm_rows]
    ids = out["client_id"].astype("str").to_numpy()[rm_rows]
    order = np.lexsort((ids, -ev, -rank))  # last key is primary
    overflow = np.zeros(len(out), dtype=bool)
    overflow[rm_rows[order[capacity:]]] = True
    channel = resolved.policy.rm_capacity.overflow_channel
    mask = overflow  # positional, so a repeated index label cannot misalign anything
    out["channel"] = out["channel"].mask(mask, channel)
    out["channel_zh"] = out["channel_zh"].mask(mask, CHANNEL_ZH[channel])
    out["flag_rm_overflow"] = out["flag_rm_overflow"] | overflow
    for lang, column, channel_name in (
        ("en", "tier_reason_en", CHANNEL_EN[channel]),
        ("zh", "tier_reason_zh", CHANNEL_ZH[channel]),
    ):
        words = resolved.policy.reasons[lang]  # type: ignore[index]
        note = words.rm_overflow.replace("{channel}", channel_name)
        sub = out.loc[mask, column]
        tiers = out.loc[mask, "tier"] if lang == "en" else out.loc[mask, "tier_zh"]
        notes = (
            pd.Series(
                [note.replace("{tier}", t) for t in tiers], index=sub.index, dtype=text.STR_DTYPE
            )
            if "{tier}" in note
            else note
        )
        out.loc[mask, column] = sub + words.separator + notes
    logger.info(
        "relationship-manager capacity %d: %d of %d clients overflow to %s",
        capacity,
        int(overflow.sum()),
        len(rm_rows),
        channel,
    )
    return out


def summarise_tiers(recs: pd.DataFrame) -> pd.DataFrame:
    """Clients, share, channel counts and flag counts per tier (Premier first) and in total."""
    tiers = list(TIERS)
    tier = pd.Categorical(recs["tier"], categories=tiers, ordered=True)
    grouped = recs.assign(tier=tier).groupby("tier", observed=False)
    table = pd.DataFrame(index=pd.Index(tiers, name="tier"))
    table["tier_zh"] = [TIER_ZH[t] for t in tiers]
    table["clients"] = grouped.size().astype("int64")
    total = int(table["clients"].sum())
    for channel in CHANNELS:
        table[channel] = grouped["channel"].apply(lambda s, c=channel: int((s == c).sum()))
    for flag in FLAG_COLUMNS:
        if flag in recs.columns:
            table[flag] = grouped[flag].sum().astype("int64")
    totals = table.drop(columns="tier_zh").sum()
    table.loc["Total"] = {"tier_zh": "合计", **totals.to_dict()}
    table["share"] = table["clients"] / total if total else 0.0
    return table[
        ["tier_zh", "clients", "share", *CHANNELS, *[f for f in FLAG_COLUMNS if f in table]]
    ]
