"""What would move this client up a tier: the smallest verified sets of actionable changes.

For a client below the top tier (or on risk watch, `goal="risk_watch"`), the search looks for
the smallest sets of at most `max_changes` levers (`NextTierConfig.levers`: deposits, wealth
holdings, salary domiciliation, digital use; products held follow the product columns) whose
raised values move the recommended tier up one level (or clear the flag). How it works:

1. candidate amounts per lever come from the models themselves: every split threshold of the
   three boosters on a feature the lever moves linearly (`features.linear_effects`: the level,
   the sums, averages, slopes, contribution) is turned into the amount that crosses it, and
   the policy adds two more (the asset floor of the target tier, the amount whose extra
   contribution alone would reach the target tier's expected-value cut); amounts are rounded
   up to the lever's step and kept within the plausible range (the lever's value at most the
   `range_quantile` of the clients of the target tier in the scored month, `plausible_ranges`);
2. the changed clients are built as one frame per stage (one change, then pairs, then triples
   for the clients still without an answer: `features.with_change` applies each change by the
   snapshot's own definitions) and scored at once: the three models and the policy's decision,
   one call per batch, never one predict per candidate;
3. per client, the cheapest candidate of each lever set that reaches the target (cost: the share
   of each lever's plausible headroom used, summed) gives an alternative, up to `alternatives`;
4. every alternative is VERIFIED on the real path: `Recommender.recommend` (models, TreeSHAP,
   policy) on the changed client; only alternatives that give the target are returned, and a
   changed fixed feature is a bug (`RuntimeError`).

No answer is offered to a client in default or under exit review (the policy does not upgrade
them), nor above the top tier; `NextTier.status` says why.

Tier memory: a client scored in the monthly job has an archived tier that may differ from what
its snapshot alone gives (the risk gate keeps a client at most at last month's tier; an exit
review holds or downgrades it). `held` (the month's archived rows, `HELD_COLUMNS`) makes the
search start from the archived tier: the target is one above it, the archived review and
default state stop the search, and `with_memory` gives the rows the memory the policy read
(`tier_prev`, `p_default_prev`) so every changed client, and its verification, is decided with
it. Deterministic: no randomness, stable orderings throughout. Pure: rows in, answers out.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from tierwise.features import FeatureConfig, linear_effects, moved_features, with_change
from tierwise.models._next_tier_config import NextTierConfig
from tierwise.models._policy import _decide, with_assumptions
from tierwise.models._policy_config import TIERS_BY_RANK
from tierwise.models._recommender import Recommender, _input_key, _predict, policy_inputs

Goal = Literal["tier", "risk_watch"]
Status = Literal["found", "not_found", "top_tier", "in_default", "exit_review", "not_on_watch"]
MAX_ROWS = 200_000
"""Changed rows scored per call (larger stages are split)."""
HELD_COLUMNS: tuple[str, ...] = ("client_id", "tier", "tier_prev", "p_default_prev", "exit_review_status",
                                 "flag_in_default")
"""What the search reads of a client's archived month (`held`); `flag_in_default` may be absent."""
OPEN_REVIEW: tuple[str, ...] = ("opened", "open", "downgraded")
"""Archived review statuses under which no upgrade is offered (a downgrade is the review's last month)."""
MEMORY: tuple[str, ...] = ("tier_prev", "p_default_prev")


@dataclass(frozen=True)
class Change:
    """One lever raised by `amount` from `before` (the monthly column's value at the snapshot)."""

    lever: str
    column: str
    before: float
    amount: float

    @property
    def after(self) -> float:
        return self.before + self.amount


@dataclass(frozen=True)
class Alternative:
    """Changes that, verified on the recommender, give `tier` and `expected_value`."""

    changes: tuple[Change, ...]
    tier: str
    expected_value: float
    risk_watch: bool


@dataclass(frozen=True)
class NextTier:
    """The answer for one client: its tier, the target, why there is no answer, or the
    verified alternatives (fewest changes first, then the cheapest)."""

    client_id: str
    tier: str
    target: str | None
    goal: Goal
    status: Status
    expected_value: float
    alternatives: tuple[Alternative, ...] = ()
    months: int = 1  # the changes are held this many months (`NextTierConfig.hold_months`)
    from_archive: bool = False  # the tier (and review state) is the archived month's, with its memory


def with_memory(rows: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    """`rows` with the tier memory the policy read for each client in `held` (the month's
    archived rows: `tier_prev`, `p_default_prev`); a client not in `held` gets nulls (no history)."""
    memory = held.drop_duplicates("client_id").set_index(held["client_id"].drop_duplicates().astype(str))
    ids = rows["client_id"].astype(str).to_numpy()
    out = rows.copy()
    for column in MEMORY:
        values = memory[column].reindex(ids) if column in memory.columns else pd.Series(np.nan, index=ids)
        out[column] = values.to_numpy(dtype=float) if column == "p_default_prev" else \
            values.astype(object).where(values.notna(), None).to_numpy(dtype=object)
    return out


def plausible_ranges(population: pd.DataFrame, tiers: Sequence[str], config: NextTierConfig
                     ) -> dict[str, dict[str, float]]:
    """Lever -> tier -> the highest value a client moving to that tier may reach: the
    `range_quantile` of the lever's column among the population's clients of that tier (those
    at or above it when the tier has fewer than `min_reference`; all clients when they are
    still fewer). Plain data (JSON)."""
    rank = np.array([TIERS_BY_RANK.index(t) for t in np.asarray(tiers, dtype=object)], dtype=np.int64)
    out: dict[str, dict[str, float]] = {}
    for name, lever in config.levers.items():
        if lever.column not in population.columns:
            continue
        values = population[lever.column].to_numpy(dtype=np.float64, na_value=np.nan)
        whole = _quantile(values, config.range_quantile)
        out[name] = {}
        for r, tier in enumerate(TIERS_BY_RANK):
            out[name][tier] = whole
            for reference in (values[rank == r], values[rank >= r]):
                if np.isfinite(reference).sum() >= config.min_reference:
                    out[name][tier] = _quantile(reference, config.range_quantile)
                    break
    return out


def _quantile(values: np.ndarray, q: float) -> float:
    finite = values[np.isfinite(values)]
    return float(np.quantile(finite, q)) if len(finite) else 0.0


def split_thresholds(recommender: Recommender) -> dict[str, np.ndarray]:
    """Feature -> the sorted numeric split thresholds of every booster of the recommender."""
    found: dict[str, set[float]] = {}
    for model in recommender.models.values():
        booster = model.booster_
        if booster is None:
            continue
        dump = booster.dump_model()
        names = dump["feature_names"]
        stack = [tree["tree_structure"] for tree in dump["tree_info"]]
        while stack:
            node = stack.pop()
            if "split_feature" not in node:
                continue
            if node.get("decision_type") == "<=":
                found.setdefault(names[node["split_feature"]], set()).add(float(node["threshold"]))
            stack.extend((node["left_child"], node["right_child"]))
    return {f: np.array(sorted(v)) for f, v in sorted(found.items())}


@dataclass(frozen=True)
class Decisions:
    tier: np.ndarray  # rank codes
    ev: np.ndarray
    loss: np.ndarray
    net: np.ndarray
    risk_watch: np.ndarray
    in_default: np.ndarray
    exit_review: np.ndarray


def decide(recommender: Recommender, frame: pd.DataFrame) -> Decisions:
    """The models' scores and the policy's decision for `frame`, without reasons (the search's
    fast path; answers are verified with `Recommender.recommend`)."""
    frame = frame.reset_index(drop=True)
    scores: dict[str, np.ndarray] = {}
    matrices: dict[tuple, np.ndarray] = {}
    for key, model in recommender.models.items():
        if model.booster_ is None:
            scores[key] = _predict(model, model.model_inputs(frame))
            continue
        same = _input_key(model)
        if same not in matrices:
            matrices[same] = model.model_matrix(frame)
        scores[key] = model.predict_matrix(matrices[same])
    inputs = with_assumptions(policy_inputs(frame, scores), recommender.policy)
    d = _decide(inputs, recommender.policy)
    net = inputs["contribution_monthly"].to_numpy(dtype=float) - inputs["cost_to_serve_monthly"].to_numpy(dtype=float)
    return Decisions(d["tier"], d["ev"], d["loss"], net, d["risk_watch"], d["in_default"], d["exit_review"])


@dataclass(frozen=True, kw_only=True)
class NextTierSearch:
    """The search over one recommender: its models and policy, the levers, the feature
    definitions the changes follow, and the plausible ranges of the scored month."""

    recommender: Recommender
    config: NextTierConfig
    features: FeatureConfig
    ranges: Mapping[str, Mapping[str, float]]
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def for_population(cls, recommender: Recommender, config: NextTierConfig, features: FeatureConfig,
                       population: pd.DataFrame, held: pd.DataFrame | None = None) -> NextTierSearch:
        """A search whose ranges come from `population` (the scored month's snapshot rows) and
        their tiers: the archived ones of the clients in `held` (the month's archived rows),
        decided from the rows for the others."""
        population = population.reset_index(drop=True)
        tiers = np.full(len(population), None, dtype=object)
        if held is not None:  # the archived tiers as they are; only the clients not archived are decided
            archived = held.drop_duplicates("client_id").set_index(held["client_id"].drop_duplicates().astype(str))
            tiers = archived["tier"].reindex(population["client_id"].astype(str).to_numpy()).to_numpy(dtype=object)
        missing = np.flatnonzero(pd.isna(tiers))
        if len(missing):
            tiers[missing] = np.asarray(TIERS_BY_RANK, dtype=object)[decide(recommender, population.take(missing)).tier]
        return cls(recommender=recommender, config=config, features=features,
                   ranges=plausible_ranges(population, tiers, config))

    @functools.cached_property
    def thresholds(self) -> dict[str, np.ndarray]:
        return split_thresholds(self.recommender)

    @functools.cached_property
    def effects(self) -> dict[str, dict[str, float]]:
        return {name: linear_effects(lever.column, self.features, self.config.hold_months)
                for name, lever in self.config.levers.items()}

    def search(self, rows: pd.DataFrame, goal: Goal = "tier", held: pd.DataFrame | None = None) -> list[NextTier]:
        """One `NextTier` per row of `rows` (snapshot features with the recommender's inputs;
        a lever whose column is absent is not used), in order. `held`: the month's archived
        rows (`HELD_COLUMNS`); a client in it starts from its archived tier and review state,
        decided with its tier memory (see the module docstring)."""
        self.recommender.check_inputs(rows)
        rows = rows.reset_index(drop=True)
        if held is not None:
            rows = with_memory(rows, held)
        base = decide(self.recommender, rows)
        archived = np.zeros(len(rows), dtype=bool)
        if held is not None:
            base, archived = _held_state(base, rows, held)
        ids = rows["client_id"].astype(str).to_numpy()
        n = len(rows)
        top = len(TIERS_BY_RANK) - 1
        target = np.minimum(base.tier.astype(np.int64) + (goal == "tier"), top)
        status = np.full(n, "", dtype=object)
        status[base.in_default] = "in_default"
        status[(status == "") & base.exit_review] = "exit_review"
        if goal == "tier":
            status[(status == "") & (base.tier == top)] = "top_tier"
        else:
            status[(status == "") & ~base.risk_watch] = "not_on_watch"
        open_rows = np.flatnonzero(status == "")
        found: dict[int, list[tuple[dict[str, float], float]]] = {}
        candidates = {i: self._candidates(rows, base, i, int(target[i])) for i in open_rows}
        pending = [i for i in open_rows if candidates[i]]
        for size in range(1, self.config.max_changes + 1):
            if not pending:
                break
            hits = self._stage(rows, base, pending, candidates, target, size, goal)
            found.update(hits)
            pending = [i for i in pending if i not in hits]
        verified = self._verify(rows, found, target, base, goal)
        out = []
        for i in range(n):
            alts = verified.get(i, ())
            st = status[i] or ("found" if alts else "not_found")
            out.append(NextTier(client_id=str(ids[i]), tier=TIERS_BY_RANK[int(base.tier[i])],
                                target=None if st in ("top_tier", "in_default", "exit_review", "not_on_watch")
                                else TIERS_BY_RANK[int(target[i])],
                                goal=goal, status=st, expected_value=float(base.ev[i]), alternatives=tuple(alts),
                                months=self.config.hold_months, from_archive=bool(archived[i])))
        return out

    # ----------------------------------------------------------------------- candidates

    def _candidates(self, rows: pd.DataFrame, base: Decisions, i: int, target: int) -> dict[str, np.ndarray]:
        """Lever -> the candidate amounts (increasing) for row i towards `target`."""
        tier = TIERS_BY_RANK[target]
        policy = self.recommender.policy
        floors = {"Premier": policy.policy.asset_floor.premier, "Excellence": policy.policy.asset_floor.excellence}
        cut = policy.cuts.get(tier)  # type: ignore[call-overload]
        out: dict[str, np.ndarray] = {}
        for name, lever in self.config.levers.items():
            if lever.column not in rows.columns or name not in self.ranges:
                continue
            now = float(np.nan_to_num(rows[lever.column].iat[i]))
            if lever.only_from_zero and now > 0:
                continue
            room = math.floor((self.ranges[name][tier] - now) / lever.step) * lever.step
            if room < lever.step:
                continue
            amounts = [room]
            for feature, multiple in self.effects[name].items():
                if feature in self.thresholds and feature in rows.columns:
                    value = rows[feature].iat[i]
                    if pd.notna(value):
                        amounts.extend((self.thresholds[feature] - float(value)) / multiple)
            if tier in floors and "assets_total" in self.effects[name] and "assets_total" in rows.columns:
                amounts.append(floors[tier] - float(rows["assets_total"].iat[i]))
            earn = self.effects[name].get("net_contribution_monthly", 0.0)
            ev, loss, net = base.ev[i], base.loss[i], base.net[i]
            if cut is not None and earn > 0 and net > 0 and ev + loss > 0:  # dEV/dnet = (EV + loss) / net
                amounts.append((cut - ev) / ((ev + loss) / net * earn))
            amounts_arr = np.asarray(amounts, dtype=np.float64)
            amounts_arr = amounts_arr[np.isfinite(amounts_arr) & (amounts_arr > 0)]
            stepped = np.ceil((amounts_arr * (1 + 1e-9) + 1e-9) / lever.step) * lever.step
            stepped = np.unique(stepped[stepped <= room])
            if len(stepped):
                out[name] = _spread(stepped, self.config.candidates)
        return out

    # ----------------------------------------------------------------------- one stage

    def _stage(self, rows: pd.DataFrame, base: Decisions, pending: Sequence[int],
               candidates: Mapping[int, Mapping[str, np.ndarray]], target: np.ndarray, size: int, goal: Goal
               ) -> dict[int, list[tuple[dict[str, float], float]]]:
        """Every combination of `size` levers for the pending rows, scored at once; per row
        the cheapest amounts of up to `alternatives` lever sets that reach the target."""
        per = {1: self.config.candidates, 2: self.config.candidates_pair, 3: self.config.candidates_triple}[size]
        levers = list(self.config.levers)
        owner: list[np.ndarray] = []
        amounts: list[np.ndarray] = []  # (rows, levers)
        combo_of: list[np.ndarray] = []
        combos: list[tuple[str, ...]] = []
        for i in pending:
            mine = candidates[i]
            for combo in itertools.combinations([lv for lv in levers if lv in mine], size):
                grids = [_spread(mine[lv], per) for lv in combo]
                mesh = np.array(list(itertools.product(*grids)), dtype=np.float64)
                block = np.zeros((len(mesh), len(levers)))
                for k, lv in enumerate(combo):
                    block[:, levers.index(lv)] = mesh[:, k]
                owner.append(np.full(len(mesh), i))
                amounts.append(block)
                combo_of.append(np.full(len(mesh), len(combos)))
                combos.append(combo)
        if not owner:
            return {}
        who, delta, which = np.concatenate(owner), np.vstack(amounts), np.concatenate(combo_of)
        ok = np.zeros(len(who), dtype=bool)
        for start in range(0, len(who), MAX_ROWS):
            part = slice(start, start + MAX_ROWS)
            changed = self.changed(rows, who[part], delta[part])
            d = decide(self.recommender, changed)
            ok[part] = _reached(d, target[who[part]], base.tier[who[part]], goal)
        cost = self._cost(rows, who, delta, target)
        hits: dict[int, list[tuple[dict[str, float], float]]] = {}
        order = np.lexsort((np.arange(len(who)), cost, who))
        seen: set[tuple[int, int]] = set()
        for r in order[ok[order]]:
            i, c = int(who[r]), int(which[r])
            if (i, c) in seen or len(hits.get(i, [])) >= self.config.alternatives:
                continue
            seen.add((i, c))
            hits.setdefault(i, []).append(({lv: float(delta[r, levers.index(lv)]) for lv in combos[c]}, float(cost[r])))
        for i in hits:
            hits[i].sort(key=lambda item: item[1])
        return hits

    def _cost(self, rows: pd.DataFrame, who: np.ndarray, delta: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Share of each lever's plausible headroom used, summed over the levers."""
        cost = np.zeros(len(who))
        for k, (name, lever) in enumerate(self.config.levers.items()):
            if name not in self.ranges or lever.column not in rows.columns:
                continue
            now = np.nan_to_num(rows[lever.column].to_numpy(dtype=np.float64, na_value=np.nan))[who]
            upper = np.array([self.ranges[name][TIERS_BY_RANK[int(t)]] for t in target[who]])
            cost += delta[:, k] / np.maximum(upper - now, lever.step)
        return cost

    def changed(self, rows: pd.DataFrame, who: np.ndarray, delta: np.ndarray) -> pd.DataFrame:
        """Rows `who` of `rows` with lever k raised by `delta[:, k]` (the snapshot's definitions)."""
        out = rows.take(who).reset_index(drop=True)
        for k, lever in enumerate(self.config.levers.values()):
            if lever.column in out.columns and delta[:, k].any():
                out = with_change(out, lever.column, delta[:, k], self.features, self.config.hold_months)
        return out

    # ----------------------------------------------------------------------- verification

    def _verify(self, rows: pd.DataFrame, found: Mapping[int, list[tuple[dict[str, float], float]]],
                target: np.ndarray, base: Decisions, goal: Goal) -> dict[int, list[Alternative]]:
        """Re-run the recommender (models, TreeSHAP, policy) on every changed client; keep the
        alternatives that reach the target. A fixed feature that moved is a bug."""
        if not found:
            return {}
        levers = list(self.config.levers)
        who, plan = [], []
        for i, alternatives in sorted(found.items()):
            for amounts, _ in alternatives:
                who.append(i)
                plan.append(amounts)
        who_arr = np.array(who)
        delta = np.zeros((len(who), len(levers)))
        for r, amounts in enumerate(plan):
            for lv, amount in amounts.items():
                delta[r, levers.index(lv)] = amount
        changed = self.changed(rows, who_arr, delta)
        self._check_fixed(rows.take(who_arr).reset_index(drop=True), changed)
        answer = self.recommender.recommend(changed, columns=("client_id", "tier", "expected_value_12m",
                                                              "flag_risk_watch"))
        reached = np.array([TIERS_BY_RANK.index(t) for t in answer["tier"]])
        watch = answer["flag_risk_watch"].to_numpy(dtype=bool)
        good = reached >= target[who_arr] if goal == "tier" else (~watch & (reached >= base.tier[who_arr]))
        out: dict[int, list[Alternative]] = {}
        for r, i in enumerate(who):
            if not good[r]:
                continue
            changes = tuple(Change(lv, self.config.levers[lv].column,
                                   float(np.nan_to_num(rows[self.config.levers[lv].column].iat[i])), amount)
                            for lv, amount in plan[r].items())
            out.setdefault(i, []).append(Alternative(changes, str(answer["tier"].iat[r]),
                                                     float(answer["expected_value_12m"].iat[r]), bool(watch[r])))
        return out

    def _check_fixed(self, before: pd.DataFrame, after: pd.DataFrame) -> None:
        allowed = set().union(*(moved_features(lv.column, self.features) for lv in self.config.levers.values()))
        for name in before.columns:
            if name in allowed:
                continue
            a, b = before[name], after[name]
            if not (a.isna().to_numpy() == b.isna().to_numpy()).all() or not a[a.notna()].equals(b[b.notna()]):
                raise RuntimeError(f"next tier: feature {name!r} changed but no lever moves it")


def _held_state(base: Decisions, rows: pd.DataFrame, held: pd.DataFrame) -> tuple[Decisions, np.ndarray]:
    """`base` with the archived tier, exit review and default state of the clients in `held`,
    and which rows were found there."""
    state = held.drop_duplicates("client_id").set_index(held["client_id"].drop_duplicates().astype(str))
    state = state.reindex(rows["client_id"].astype(str).to_numpy())
    archived = state["tier"].notna().to_numpy()
    tier = base.tier.copy()
    tier[archived] = [TIERS_BY_RANK.index(t) for t in state["tier"].to_numpy(dtype=object)[archived]]
    review = base.exit_review.copy()
    if "exit_review_status" in state.columns:
        review[archived] = np.isin(state["exit_review_status"].to_numpy(dtype=object)[archived], OPEN_REVIEW)
    in_default = base.in_default.copy()
    if "flag_in_default" in state.columns:
        flag = state["flag_in_default"].to_numpy(dtype=object)[archived]
        in_default[archived] = np.array([bool(v) if pd.notna(v) else False for v in flag], dtype=bool)
    return dataclasses.replace(base, tier=tier.astype(base.tier.dtype), exit_review=review,
                               in_default=in_default), archived


def _reached(d: Decisions, target: np.ndarray, tier: np.ndarray, goal: Goal) -> np.ndarray:
    if goal == "tier":
        return d.tier >= target
    return ~d.risk_watch & (d.tier >= tier)


def _spread(values: np.ndarray, k: int) -> np.ndarray:
    """At most k of the sorted `values`, evenly spread, the smallest and the largest kept."""
    if len(values) <= k:
        return values
    if k == 1:
        return values[-1:]
    return values[np.unique(np.round(np.linspace(0, len(values) - 1, k)).astype(int))]
