"""The governance pack: a model card per registered model version, for model-risk review.

`write_pack` (`tierwise governance`, and `tierwise promote` for an approved version) reads the
registry and the version's run and writes `card.md` and a self-contained `card.html` under
`outputs/governance/<name>/v<version>/`, logs both to the run under `governance/` and tags
the version with `governance_card`.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tierwise import registry, tracking
from tierwise.features import TASKS, FeatureConfig, feature_catalog, write_text_atomic
from tierwise.governance._cards import (
    Card,
    Section,
    Table,
    approval_section,
    data_window_from_card,
    image_uri,
    money,
    ms_time,
    open_alerts,
    read_csv_or_none,
    recommender_approval,
    section_calibration,
    section_data,
    section_fairness,
    section_features,
    section_limitations,
    section_metrics,
    section_purpose,
    section_stability,
    summary_section,
)
from tierwise.governance._checks import (
    fairness_decision,
    fairness_settings,
    model_fairness,
    score_stability,
)
from tierwise.governance._records import SCORED_ROWS, TRAINING_RECORD, utc_now
from tierwise.governance._render import render_html, render_markdown
from tierwise.models import DEFAULT_CURRENCY
from tierwise.reports import MonitorConfig

logger = logging.getLogger(__name__)

CARD_TAG = "governance_card"
ALERTS_TAG = "governance_open_alerts"
"""Tag of a version with a card: its card's open alerts ("; "-joined), "none" when there are none;
the recommender's card reads it for every bundled version."""
ARTIFACT_DIR = "governance"
DEFAULT_OUT = Path("outputs/governance")
RECOMMENDER = registry.RECOMMENDER


@dataclass(frozen=True)
class PackPaths:
    name: str
    version: str
    run_id: str
    markdown: Path
    html: Path
    artifact_uri: str


def task_card(client: Any, name: str, version: str, *, monitor: MonitorConfig | None = None,
              features: FeatureConfig | None = None) -> Card:
    """The card of one task-model version, from the registry and the version's run. Decision
    thresholds and feature descriptions come from the settings of the registered recommender
    (its champion); before there is one, from `features` (the CLI's features config) and the
    monitor config's fallback thresholds."""
    mv = registry.model_version(client, name, version)
    run = client.get_run(mv.run_id)
    with tempfile.TemporaryDirectory() as tmp:
        files = registry.RunFiles(client, mv.run_id, Path(tmp))
        logged = yaml.safe_load(files.text("config.yaml") or "{}") or {}
        config = logged.get("task", logged) if isinstance(logged.get("task"), dict) else logged
        record = json.loads(files.text(TRAINING_RECORD) or "{}")
        if not record.get("data_window"):
            record["data_window"] = data_window_from_card(files.text("model_card.md") or "")
        grades = read_csv_or_none(files.path("grades.csv"))
        importance = read_csv_or_none(files.path("importance.csv"))
        rows_path = files.path(SCORED_ROWS)
        rows = pd.read_parquet(rows_path) if rows_path is not None else None
        image = image_uri(files.path("calibration.png") or files.path("predicted_vs_actual.png"))
    model = registry.load_model(registry.version_uri(name, version))
    kind = record.get("kind") or getattr(model, "kind", config.get("kind", "binary"))
    task = str(config.get("task") or run.data.tags.get("tierwise.task") or name)
    fingerprint = record.get("fingerprint") or run.data.params.get("data_fingerprint", "")
    built_with = registry.recommender_settings(client)
    policy = built_with.policy if built_with is not None else None
    features = built_with.features if built_with is not None else features
    fair_cfg, psi_cfg, thresholds = fairness_settings(monitor, policy)
    decision, threshold = fairness_decision(task, kind, thresholds)
    fairness = stability = None
    split_note = "evaluated rows"
    if rows is not None:
        evaluated = rows[rows["split"].isin(("test", "oof"))]
        split_note = "out-of-time test rows" if (evaluated["split"] == "test").any() else "out-of-fold rows"
        fairness = model_fairness(evaluated, kind=kind, threshold=threshold, cfg=fair_cfg)
        stability = score_stability(rows, record.get("time_column"), psi_cfg)
    champion = registry.alias_version(client, name, registry.CHAMPION)
    extra = []
    if record.get("scope") and not record.get("split_column"):
        extra.append("Evaluated by cross-validation on one table, not on a later period: no out-of-time evidence.")
    sections = [
        section_purpose(task, config, mv, run),
        section_data(record, run, fingerprint),
        section_features(model, config, feature_catalog(features) if features is not None else {}, importance),
        section_metrics(run.data.metrics, record),
        section_calibration(grades, rows, kind, run.data.metrics, image),
        section_fairness(fairness, decision, fair_cfg, split_note),
        section_stability(stability, psi_cfg),
        section_limitations(config, extra),
    ]
    sections.append(approval_section(registry.version_tags(mv), list(mv.aliases or []), champion,
                                     alerts=open_alerts(sections)))
    sections.insert(0, summary_section(sections))
    return Card(name, str(version), f"Model card: {name} version {version}",
                str(config.get("description") or ""), sections, utc_now())


def recommender_card(client: Any, name: str, version: str) -> Card:
    """The recommender's card: the task-model versions it bundles (with their approval), the
    policy cut-offs and the policy it was built with (its logged settings)."""
    mv = registry.model_version(client, name, version)
    run = client.get_run(mv.run_id)
    params = run.data.params
    assessed = params.get("tasks_assessed")
    assumed = (run.data.tags or {}).get("assumptions", "")
    rows, classes, absent, bundled_alerts, approved_versions = [], [], [], [], []
    for task in TASKS:
        bundled = params.get(f"{task}_version")
        task_name = registry.registered_name(task)
        if bundled is None and assessed is not None and task not in assessed.split(","):
            absent.append([task_name, "none (no model)", "assumed by the policy", "see the tier policy below"])
            continue
        if bundled is None:
            rows.append([task_name, "not logged", "", ""])
            classes.append("warn")
            approved_versions.append(False)
            continue
        tags = registry.version_tags(registry.find_version(client, task_name, bundled))  # deleted: no tags
        approved = (f"approved by {tags['approved_by']} at {tags.get('approved_at', 'n/a')}"
                    if tags.get("approved_by") else "not approved")
        card = tags.get(CARD_TAG, "no card yet: `tierwise governance --model " + task_name + f" --version {bundled}`")
        alerts = [a for a in tags.get(ALERTS_TAG, "none").split("; ") if a != "none"]
        bundled_alerts.extend(f"{task_name} v{bundled}: {a}" for a in alerts)
        rows.append([task_name, f"v{bundled}", approved + (f"; open alerts: {'; '.join(alerts)}" if alerts else ""),
                     card])
        classes.append("alert" if alerts else "" if tags.get("approved_by") else "warn")
        approved_versions.append(bool(tags.get("approved_by")))
    built_with = registry.recommender_settings(client, name, version=version)
    policy_text = (yaml.safe_dump(built_with.policy.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
                   if built_with is not None else "")
    currency = built_with.policy.currency if built_with is not None else DEFAULT_CURRENCY
    cuts = [[f"`{k.removeprefix('cut_')}`", money(v, currency)] for k, v in sorted(params.items()) if k.startswith("cut_")]
    sections = [
        Section("purpose", "Purpose and intended users",
                text=["Bundles the three task champions, the tier policy and the reason catalogues into one "
                      "self-contained MLflow pyfunc: for every client the three scores, the tier and channel, the "
                      "flags and the top reasons in English and Chinese."],
                bullets=["intended users: the monthly scoring job (`tierwise score`), online serving "
                         "(`tierwise serve`), relationship managers through the client cards and RM report",
                         f"registered as `{name}` version {version} (run `{mv.run_id}`), created "
                         f"{ms_time(mv.creation_timestamp)}"]),
        Section("models", "Bundled model versions",
                text=["Each task model has its own card (fairness, calibration, stability); this bundle is only as "
                      "approved as the versions inside it."],
                tables=[Table(["model", "version", "approval", "card"], rows + absent,
                              row_classes=classes + ["warn"] * len(absent))],
                status="alert" if bundled_alerts else "warn" if any(classes) or absent else "ok",
                finding=f"{sum(approved_versions)} of {len(approved_versions)} bundled versions approved"
                + (f"; {len(bundled_alerts)} open alert(s) on their cards" if bundled_alerts else "")
                + (f"; no model for {', '.join(r[0] for r in absent)} (assumed)" if absent else "")),
        Section("policy", "Tier policy",
                text=[f"Tier cut-offs learnt on {params.get('reference_clients', 'n/a')} reference clients."]
                + ([f"Tasks without a model, assumed by the policy (also said in every tier reason): {assumed}."]
                   if assumed else []),
                tables=[Table(["cut-off", "value"], cuts)] if cuts else [],
                code=policy_text),
        Section("limitations", "Known limitations", bullets=[
            "The bundle freezes the task-model versions at build time: after a promotion run `tierwise recommend` "
            "again.",
            "Tier cut-offs are relative to the reference month's client base; a shifted portfolio moves them.",
            "Fairness of the tier assignment itself is checked monthly by `tierwise monitor` on scored clients, "
            "not here.",
        ]),
        recommender_approval(registry.version_tags(mv), list(mv.aliases or []),
                             registry.alias_version(client, name, registry.CHAMPION),
                             bundle_approved=bool(rows) and all(approved_versions), alerts=bundled_alerts,
                             built=f"{run.info.user_id or 'unknown'} at {ms_time(run.info.start_time)}"),
    ]
    sections.insert(0, summary_section(sections))
    return Card(name, str(version), f"Model card: {name} version {version}",
                "The tier recommender (尊享 Premier, 卓越 Excellence, 潜力 Potential, 一般 General)", sections, utc_now())


# ============================================================================ the pack
def write_pack(name: str, *, version: str | None = None, alias: str | None = None, out_dir: Path = DEFAULT_OUT,
               monitor: MonitorConfig | None = None, features: FeatureConfig | None = None,
               log_to_mlflow: bool = True) -> PackPaths:
    """Write `card.md` and `card.html` for one registered version (default: the champion) under
    `out_dir/<name>/v<version>/`, log them to the version's run under `governance/` and tag the
    version with `governance_card` (the artifact URI of the HTML card). `monitor`: fairness and
    PSI settings; `features`: feature descriptions until a recommender is registered (see `task_card`)."""
    client = tracking.connect()
    version = registry.registered_version(client, name, version=version, alias=alias)
    card = (recommender_card(client, name, version) if name == registry.RECOMMENDER
            else task_card(client, name, version, monitor=monitor, features=features))
    folder = Path(out_dir) / name / f"v{version}"
    md = write_text_atomic(folder / "card.md", render_markdown(card))
    html = write_text_atomic(folder / "card.html", render_html(card))
    run_id = registry.model_version(client, name, version).run_id
    uri = f"runs:/{run_id}/{ARTIFACT_DIR}/card.html"
    if log_to_mlflow:
        client.log_artifact(run_id, str(md), ARTIFACT_DIR)
        client.log_artifact(run_id, str(html), ARTIFACT_DIR)
        alerts = open_alerts([s for s in card.sections if s.key != "approval"])
        registry.set_version_tags(client, name, version, {CARD_TAG: uri, f"{CARD_TAG}_at": card.generated_at,
                                                          ALERTS_TAG: "; ".join(alerts) or "none"})
    logger.info("%s v%s: governance card in %s", name, version, folder)
    return PackPaths(name, version, run_id, md, html, uri)


def write_packs(name: str, *, out_dir: Path = DEFAULT_OUT, monitor: MonitorConfig | None = None,
                features: FeatureConfig | None = None) -> list[PackPaths]:
    """The pack of every registered version of `name`."""
    client = tracking.connect()
    registry.require_model(client, name)
    return [write_pack(name, version=v, out_dir=out_dir, monitor=monitor, features=features)
            for v in registry.all_versions(client, name)]
