"""`tierwise explain`: one client's scores and the reasons behind them, in words.

Wiring only: read the bank's raw tables, compute the client's snapshot features at the month,
load the registered `tierwise-churn` / `-default` / `-growth` models that exist (alias
`champion`, else the latest version; a task without a model is shown as not assessed), score, explain with the project's TreeSHAP kernel and phrase the top reasons
with the reason catalogues (`configs/reasons/<lang>.yaml`). When the champion recommender
bundles product propensity models, the card also lists the client's next products: the
offers that recommender makes for the snapshot (behind its policy's gates; without the
archive's tier memory, so an exit review carried from earlier months is not seen here).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierwise import registry, tracking
from tierwise.features import (
    CLIENT_KEY,
    TASKS,
    DataError,
    FeatureConfig,
    check_month_in_range,
    feature_catalog,
    snapshot_features,
)
from tierwise.models import (
    LANGUAGES,
    ReasonCatalogue,
    format_change,
    format_probability,
    reason_codes,
    shap_values,
)
from tierwise.registry import load_task_model

logger = logging.getLogger(__name__)

BANDS: dict[str, tuple[float, float]] = {"churn": (0.1, 0.3), "default": (0.01, 0.05), "growth": (0.0, 0.15)}

WORDS = {
    "en": {"churn": "Churn likelihood", "default": "Default risk", "growth": "Growth potential",
           "low": "low", "medium": "medium", "high": "high", "no_exposure": "no credit exposure",
           "churn_meaning": "chance of leaving within {h} months",
           "default_meaning": "chance of 90+ days past due within {h} months",
           "growth_meaning": "expected change in assets over {h} months",
           "no_reasons": "no single factor stands out", "no_booster": "reasons need a LightGBM model",
           "no_model": "not assessed (no model trained)",
           "in_default": "in default ({days} days past due): no PD applies",
           "next_products": "Next products", "offer": "{name}: likelihood {p} in {h} months, expected value {v}",
           "from_archive": "Tier as the archive holds it for {month}: {tier} (tier memory: last tier {tier_prev})",
           "no_archive": "No archived {month} in {archive}: the tier is the snapshot's alone, without tier memory",
           "not_archived": "The client is not in the archive's {month}: the tier is the snapshot's alone",
           "no_tier_prev": "none"},
    "zh": {"churn": "流失可能性", "default": "违约风险", "growth": "增长潜力",
           "low": "低", "medium": "中", "high": "高", "no_exposure": "无信贷敞口",
           "churn_meaning": "{h}个月内流失的概率", "default_meaning": "{h}个月内逾期90天以上的概率",
           "growth_meaning": "预计{h}个月资产变化",
           "no_reasons": "无突出因素", "no_booster": "原因解释需要 LightGBM 模型",
           "no_model": "未评估（无已训练模型）",
           "in_default": "已违约（逾期{days}天）：不计违约概率",
           "next_products": "下一步产品", "offer": "{name}：{h}个月内可能性{p}，预期价值{v}",
           "from_archive": "档案中{month}的层级：{tier}（含层级记忆：上期层级{tier_prev}）",
           "no_archive": "{archive}中没有{month}的存档：层级仅按当月快照计算，不含层级记忆",
           "not_archived": "档案{month}中无该客户：层级仅按当月快照计算",
           "no_tier_prev": "无"},
}


@dataclass(frozen=True)
class Reason:
    """One reason: its family, its sentence (which says whether it raises or lowers the score)
    and its signed SHAP sum (positive: raises the score)."""

    family: str
    text: str
    shap: float


@dataclass(frozen=True)
class ScoreLine:
    task: str
    value: float | None  # probability (churn, default) or expected asset change (growth); None: not scored
    band: str | None
    version: str
    reasons: list[Reason] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Offer:
    """One next product: the family, its name, the likelihood, the expected value and the reason."""

    product: str
    name: str
    propensity: float
    value: float
    reason: str


@dataclass(frozen=True)
class ClientCard:
    client_id: str
    month: dt.date
    lang: str
    segment: str
    scores: list[ScoreLine]
    horizons: dict[str, int] = field(default_factory=lambda: {"churn": 6, "default": 12, "growth": 12})  # label months
    offers: list[Offer] = field(default_factory=list)  # none without bundled product models


def score_bands(monitor: Any | None) -> dict[str, tuple[float, float]]:
    """Low/high cut-offs per score from the monitor config's report bands (`monitor.yaml`),
    else the built-in `BANDS`."""
    if monitor is None:
        return dict(BANDS)
    report = monitor.report
    return {task: (getattr(report, f"{task}_bands").low, getattr(report, f"{task}_bands").high) for task in TASKS}


def band(value: float, cuts: tuple[float, float]) -> str:
    return "low" if value < cuts[0] else "high" if value >= cuts[1] else "medium"


def client_snapshot(client_id: str, month: dt.date, data_dir: Path, feature_config: FeatureConfig) -> pd.DataFrame:
    """The client's snapshot features at `month` (one row); one-line errors when there are none."""
    from tierwise.features import read_raw_tables

    clients, monthly = read_raw_tables(data_dir)
    ids = clients[CLIENT_KEY].astype(str)
    if not (ids == client_id).any():
        raise DataError(f"client '{client_id}' is not in {data_dir}/clients (e.g. {ids.iloc[0] if len(ids) else '-'})")
    check_month_in_range(month, monthly["month"], source=f"{data_dir}/monthly")
    when = pd.Timestamp(month)
    mine = monthly[monthly[CLIENT_KEY].astype(str) == client_id]
    held = pd.to_datetime(mine["month"])
    span = f"{held.min():%Y-%m} to {held.max():%Y-%m}" if len(held) else "no months"
    if not len(held) or not held.min() <= when <= held.max():
        raise DataError(f"client '{client_id}' has no relationship in {month:%Y-%m} (their rows cover {span})")
    snap = snapshot_features(clients[ids == client_id], mine, month, feature_config)
    if snap.empty:
        raise DataError(f"client '{client_id}' has no relationship in {month:%Y-%m} (their rows cover {span})")
    return snap


def explain_client(client_id: str, month: dt.date, *, data_dir: Path, feature_config: FeatureConfig,
                   catalogues: dict[str, ReasonCatalogue], bands: dict[str, tuple[float, float]] | None = None,
                   lang: str = "en", k: int = 3, tasks: tuple[str, ...] | None = None,
                   models: dict[str, tuple[Any, str]] | None = None) -> ClientCard:
    """`bands`: low/high cut-offs per score (`score_bands`; default `BANDS`). `tasks`: the
    scores to show, each of which needs a registered model (a one-line error naming the
    models there are); None: every task, those without a model shown as not assessed.
    `models`: task -> (model, version) to score with instead of the registered task models
    (`bundled_models`: those of a recommender)."""
    if lang not in LANGUAGES:
        raise DataError(f"--lang must be one of {', '.join(LANGUAGES)}, got '{lang}'")
    families = {name: info.family for name, info in feature_catalog(feature_config).items()}
    bands = bands if bands is not None else dict(BANDS)
    if models is None:
        models = {task: load_task_model(task) for task in available_tasks(tasks)}  # fail early
    else:
        lacking = [t for t in tasks or () if t not in models]
        if lacking:
            raise DataError(f"the recommender bundles no {lacking[0]} model (it has: {', '.join(models) or 'none'})")
    snap = client_snapshot(client_id, month, Path(data_dir), feature_config)
    lines = []
    for task in TASKS if tasks is None else tasks:
        if task not in models:
            lines.append(ScoreLine(task, None, None, "", note=WORDS[lang]["no_model"]))
            continue
        model, version = models[task]
        if task == "default" and _in_default(snap, feature_config):  # 90+ days past due: a fact, not a PD
            lines.append(ScoreLine(task, None, None, version, note=WORDS[lang]["in_default"].format(
                days=int(snap["days_past_due"].iloc[0]))))
            continue
        lines.append(_score_line(task, model, version, snap, families, catalogues, lang, k, bands[task]))
    segment = str(snap["segment"].iloc[0]) if "segment" in snap.columns else ""
    horizons = {task: getattr(feature_config.labels, task).horizon_months for task in TASKS}
    horizons["products"] = feature_config.labels.products.horizon_months
    return ClientCard(client_id=client_id, month=month, lang=lang, segment=segment, scores=lines, horizons=horizons,
                      offers=client_offers(snap, lang))


def bundled_models(loaded: Any) -> dict[str, tuple[Any, str]]:
    """task -> (model, version) of a loaded recommender (`registry.LoadedRecommender`): the card
    of `explain --next-tier` scores with the models its alternatives are verified on."""
    return {task: (model, f"recommender {loaded.version}") for task, model in loaded.recommender.models.items()}


def client_offers(snap: pd.DataFrame, lang: str) -> list[Offer]:
    """The offers the champion recommender makes for the client's snapshot row (empty when
    there is no champion recommender or it bundles no product model)."""
    if registry.alias_version(tracking.connect(), registry.RECOMMENDER, registry.CHAMPION) is None:
        return []
    loaded = registry.load_recommender(registry.model_uri(registry.RECOMMENDER, registry.CHAMPION))
    rec = loaded.recommender
    if not getattr(rec, "offer_columns", None):
        return []
    missing = [c for c in rec.required_inputs if c not in snap.columns]
    if missing:
        logger.warning("explain: the recommender needs %s, which the snapshot lacks: no offers shown", missing[0])
        return []
    row = rec.recommend(snap.reset_index(drop=True), columns=rec.offer_columns).iloc[0]
    out = []
    for i in range(1, rec.family.offers + 1):
        product = row[f"offer_{i}"]
        if pd.isna(product):
            break
        reason = row[f"offer_{i}_reason_{lang}"]
        out.append(Offer(str(product), str(row[f"offer_{i}_{lang}"]), float(row[f"offer_{i}_propensity"]),
                         float(row[f"offer_{i}_value"]), "" if pd.isna(reason) else str(reason)))
    return out


def offer_lines(card: ClientCard, currency: str | None = None) -> list[tuple[str, str]]:
    """(offer sentence, reason) per next product, in the card's language."""
    from tierwise.models import DEFAULT_CURRENCY, format_money

    currency = currency or DEFAULT_CURRENCY
    words = WORDS[card.lang]
    return [(words["offer"].format(name=o.name, p=format_probability(o.propensity, card.lang),
                                   h=card.horizons.get("products", "?"),
                                   v=format_money(o.value, card.lang, currency)), o.reason) for o in card.offers]


def available_tasks(tasks: tuple[str, ...] | None = None) -> list[str]:
    """Of `tasks` (None: all), those with a registered model; a one-line `DataError` naming
    the registered task models when a task asked for by name has none, or when no task has one."""
    unknown = [t for t in tasks or () if t not in TASKS]
    if unknown:
        raise DataError(f"'{unknown[0]}' is not a task; one of {', '.join(TASKS)}")
    have = registry.task_models(tracking.connect())
    names = ", ".join(registry.registered_name(t) for t in have) or "none"
    if not have:
        raise DataError(f"no task model is registered in {tracking.tracking_uri()}; "
                        "train one first: tierwise train --task <churn|default|growth>")
    lacking = [t for t in tasks or () if t not in have]
    if lacking:
        raise DataError(f"{registry.registered_name(lacking[0])}: no registered model (task models: {names}); "
                        f"train it with `tierwise train --task {lacking[0]}`")
    return [t for t in (tasks or TASKS) if t in have]


def _in_default(snap: pd.DataFrame, feature_config: FeatureConfig) -> bool:
    """Days past due at the month at or above the default definition of the labels (the
    policy's `risk.in_default_dpd` is checked equal to it where both are loaded)."""
    if "days_past_due" not in snap.columns or "credit_exposure" not in snap.columns:
        return False
    dpd, exposure = snap["days_past_due"].iloc[0], snap["credit_exposure"].iloc[0]
    return bool(pd.notna(dpd) and exposure > 0 and dpd >= feature_config.labels.default.dpd_threshold)


def _score_line(task: str, model: Any, version: str, snap: pd.DataFrame, families: dict[str, str],
                catalogues: dict[str, ReasonCatalogue], lang: str, k: int, cuts: tuple[float, float]) -> ScoreLine:
    if task == "default" and "credit_exposure" in snap.columns and not float(snap["credit_exposure"].iloc[0]) > 0:
        return ScoreLine(task, None, None, version, note=WORDS[lang]["no_exposure"])
    raw = float(np.asarray(model.predict_score(snap))[0])
    value = float(np.expm1(raw)) if model.kind == "regression" else raw
    booster = getattr(model, "booster_", None)
    if booster is None:
        return ScoreLine(task, value, band(raw, cuts), version, note=WORDS[lang]["no_booster"])
    X = model.model_inputs(snap)
    codes = reason_codes(shap_values(booster, X), X, families, catalogues, model=task, k=k)
    reasons = [Reason(str(codes[f"reason_{task}_{r}_family"].iloc[0]), str(codes[f"reason_{task}_{r}_{lang}"].iloc[0]),
                      float(codes[f"reason_{task}_{r}_shap"].iloc[0]))
               for r in range(1, k + 1) if pd.notna(codes[f"reason_{task}_{r}_family"].iloc[0])]
    return ScoreLine(task, value, band(raw, cuts), version, reasons=reasons,
                     note="" if reasons else WORDS[lang]["no_reasons"])


def score_text(task: str, value: float, lang: str) -> str:
    """A score as every output writes it: a probability (churn, default) by
    `models.format_probability` ("2.1%", "0.47%"), growth (an expected change) by
    `models.format_change` ("+35%")."""
    return format_change(float(np.log1p(value)), lang) if task == "growth" else format_probability(value, lang)


def card_lines(card: ClientCard) -> list[tuple[str, str, list[str]]]:
    """(headline, meaning, reason texts) per score, in the card's language."""
    words = WORDS[card.lang]
    out = []
    for line in card.scores:
        if line.value is None:
            headline = f"{words[line.task]}: {line.note}"
        else:
            headline = f"{words[line.task]} {score_text(line.task, line.value, card.lang)} — {words[line.band]}"
        texts = [r.text for r in line.reasons] or ([line.note] if line.note and line.value is not None else [])
        out.append((headline, words[f"{line.task}_meaning"].format(h=card.horizons.get(line.task, "?")), texts))
    return out


@dataclass(frozen=True)
class NextTierSection:
    """The next-tier part of a card: where the tier it starts from comes from (`memory`), the
    heading (or the one sentence why no next tier is offered) and one line per verified
    alternative, in the card's language."""

    memory: str
    heading: str
    lines: list[str]


def next_tier_section(client_id: str, month: dt.date, *, data_dir: Path, config: Any, loaded: Any,
                      lang: str = "en", archive: Path | None = None) -> NextTierSection:
    """`tierwise explain --next-tier`: what would move the client at `month` up a tier, from the
    `loaded` recommender (`registry.load_recommender`: its models, features config, policy and
    reason catalogues), the plausible
    ranges taken from the month's whole snapshot. When `archive` holds `month`, the search
    starts from the archived tier, review and default state, decided with the tier memory the
    policy read (`models.NextTierSearch.search(held=...)`), and the section says so; otherwise
    the tier is the one a client without history gets, and the section says that."""
    from tierwise import archive as client_archive
    from tierwise.features import month_label, read_raw_tables, validate_tables
    from tierwise.models import HELD_COLUMNS, NextTierSearch, next_tier_texts, tier_name

    if lang not in LANGUAGES:
        raise DataError(f"--lang must be one of {', '.join(LANGUAGES)}, got '{lang}'")
    built = loaded.settings
    catalogue = built.reasons.get(lang)
    if catalogue is None or catalogue.next_tier is None:
        raise DataError(f"the champion recommender (version {loaded.version}) was built without next_tier texts in its {lang} reason catalogue; "
                        "rebuild it with `tierwise recommend`")
    client_snapshot(client_id, month, Path(data_dir), built.features)  # one-line errors for an unknown client
    clients, monthly = read_raw_tables(Path(data_dir))
    report = validate_tables(clients, monthly)
    population = snapshot_features(report.clients, report.monthly, month, built.features)
    row = population[population[CLIENT_KEY].astype(str) == client_id]
    if row.empty:
        raise DataError(f"client '{client_id}' was quarantined by validation in {month:%Y-%m} (`tierwise validate`)")
    words = WORDS[lang]
    held = None
    if archive is not None and month.replace(day=1) in client_archive.archived_months(Path(archive)):
        held = client_archive.read_archive(Path(archive), months=[month], columns=HELD_COLUMNS[1:])
    search = NextTierSearch.for_population(loaded.recommender, config, built.features, population, held=held)
    answer = search.search(row, held=held)[0]
    heading, lines = next_tier_texts(answer, catalogue)
    if answer.from_archive:
        mine = held[held[CLIENT_KEY].astype(str) == client_id].iloc[0]  # type: ignore[index]
        memory = words["from_archive"].format(month=month_label(month), tier=tier_name(str(mine["tier"]), lang),
                                              tier_prev=tier_name(str(mine["tier_prev"]), lang)
                                              if pd.notna(mine["tier_prev"]) else words["no_tier_prev"])
    elif held is not None:
        memory = words["not_archived"].format(month=month_label(month))
    else:
        memory = words["no_archive"].format(month=month_label(month), archive=archive or "-")
    logger.info("next tier for %s at %s: %s (%d alternative(s)%s)", client_id, month_label(month), answer.status,
                len(answer.alternatives), ", from the archive" if answer.from_archive else "")
    return NextTierSection(memory=memory, heading=heading, lines=lines)
