"""The governance pack: a model card per registered model version, for model-risk review.

Three moments feed it:
- **training** (`write_training_record`, called from `training._write_artifacts`) logs the
  scored validation and test rows (ids, month, split, label, score and the carried protected
  attributes, never model inputs) and the data window, so that fairness and stability can be
  recomputed for any version later without the raw data;
- **promotion** (`record_review`, called from `training.promote`) tags the reviewed model
  version: who reviewed it and when (`TIERWISE_APPROVER`, else the OS user; UTC time), the
  decision and the figures compared; only a promoted (or confirmed) version gets `approved_*`;
- **the pack** (`write_pack`, `tierwise governance`) reads the registry and the version's run
  and writes `card.md` and a self-contained `card.html` under
  `outputs/governance/<name>/v<version>/`, logs both to the run under `governance/` and tags
  the version with `governance_card`.

The card's sections are built by small pure functions from what the run logged; the two
templates (`reports/templates/governance_card.{md,html}.j2`) only lay them out.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import getpass
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from tierwise.features import TASKS, DataError
from tierwise import tracking

if TYPE_CHECKING:
    from tierwise.features import ModelFrame
    from tierwise.models import TrainResult
    from tierwise.training import Promotion

logger = logging.getLogger(__name__)

APPROVER_ENV = "TIERWISE_APPROVER"
CARD_TAG = "governance_card"
ARTIFACT_DIR = "governance"
SCORED_ROWS = "scored_rows.parquet"
TRAINING_RECORD = "training_record.json"
DEFAULT_OUT = Path("outputs/governance")
PROTECTED = ("gender", "age_band")
RECOMMENDER = "tierwise-recommender"
ALPHA = 0.05


# ============================================================================ training time
def scored_rows(result: TrainResult, frame: ModelFrame) -> pd.DataFrame | None:
    """The rows a reviewer needs to recompute fairness and stability: for a split frame the
    `valid` and out-of-time `test` rows, for a flat table the out-of-fold rows; columns: the
    time column, `split`, `label`, `score`, and the protected attributes the frame carries. No
    client ids and no model inputs (the artifact is not a copy of client data). None when the
    scores do not line up with the frame's rows."""
    ids = [c for c in (frame.time_column,) if c and c in frame.data.columns]
    protected = [c for c in PROTECTED if c in frame.data.columns]
    if frame.split_column is None:
        parts = [("oof", frame.data, result.predictions["score"].to_numpy(float))]
    else:
        valid, test = frame.part("valid"), frame.part("test")
        parts = [("valid", valid, np.asarray(result.model.predict_score(valid), dtype=float)),
                 ("test", test, result.predictions["score"].to_numpy(float))]
    out = []
    for split, part, score in parts:
        if len(part) != len(score):
            logger.warning("%s: %d %s rows but %d scores; no scored rows for the governance pack",
                           frame.name, len(part), split, len(score))
            return None
        rows = part.loc[:, ids].reset_index(drop=True)
        rows["split"] = split
        rows["label"] = part[frame.target].to_numpy(dtype=float)
        rows["score"] = score
        for col in protected:
            values = part[col].reset_index(drop=True)
            rows[col] = values.astype("str").where(values.notna(), "unknown")
        out.append(rows)
    return pd.concat(out, ignore_index=True)


def write_training_record(folder: Path, result: TrainResult, frame: ModelFrame) -> None:
    """`scored_rows.parquet` and `training_record.json` (data window, fingerprint, scope) in `folder`."""
    rows = scored_rows(result, frame)
    if rows is not None:
        rows.to_parquet(Path(folder) / SCORED_ROWS, index=False)
    record = {
        "data_window": dict(result.data_window), "fingerprint": result.fingerprint, "kind": frame.kind,
        "target": frame.target, "time_column": frame.time_column, "split_column": frame.split_column,
        "scope": ("out-of-time test set" if frame.split_column else f"{result.config.cv_folds}-fold cross-validation"),
        "protected": [c for c in PROTECTED if rows is not None and c in rows.columns],
    }
    (Path(folder) / TRAINING_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")


# ============================================================================ promotion
def approver() -> str:
    """`$TIERWISE_APPROVER`, else the operating-system user."""
    env = os.environ.get(APPROVER_ENV, "").strip()
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "unknown"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def review_decision(outcome: Promotion) -> str:
    """'promoted' (champion moved), 'confirmed' (the challenger already is the champion, e.g. the
    first version, and was reviewed on the out-of-time data) or 'refused'."""
    if outcome.promoted:
        return "promoted"
    return "confirmed" if outcome.champion_version == outcome.challenger_version else "refused"


def review_tags(outcome: Promotion, *, user: str, when: str, data_fingerprint: str = "") -> dict[str, str]:
    """The model-version tags of one review: `last_review_*` always, `approved_*` / `approval_*`
    only when the version is (or stays) champion. `data_fingerprint`: of the comparison data."""
    decision = review_decision(outcome)
    figures = {
        "metric": outcome.metric, "rows": str(outcome.rows), "data_fingerprint": data_fingerprint or "not recorded",
        "challenger_version": outcome.challenger_version, "challenger_value": f"{outcome.challenger_value:.6f}",
        "champion_version": outcome.champion_version or "none",
        "champion_value": "none" if outcome.champion_value is None else f"{outcome.champion_value:.6f}",
    }
    tags = {"last_review_by": user, "last_review_at": when, "last_review_decision": decision,
            **{f"last_review_{k}": v for k, v in figures.items()}}
    if decision != "refused":
        tags.update({"approved_by": user, "approved_at": when, "approval_decision": decision,
                     **{f"approval_{k}": v for k, v in figures.items()}})
    return tags


def record_review(client: Any, outcome: Promotion, *, data: pd.DataFrame | None = None, user: str | None = None,
                  when: str | None = None) -> dict[str, str]:
    """Tag the challenger version with the review (see `review_tags`); returns the tags. `data`:
    the rows both models were scored on (its fingerprint is recorded)."""
    from tierwise.models import frame_fingerprint

    fingerprint = frame_fingerprint(data) if data is not None else ""
    tags = review_tags(outcome, user=user or approver(), when=when or utc_now(), data_fingerprint=fingerprint)
    for key, value in tags.items():
        client.set_model_version_tag(outcome.name, outcome.challenger_version, key, value)
    logger.info("%s v%s: review by %s recorded (%s)", outcome.name, outcome.challenger_version,
                tags["last_review_by"], tags["last_review_decision"])
    return tags


# ============================================================================ card parts
@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    row_classes: list[str] = field(default_factory=list)  # HTML only: "alert", "warn" or ""


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    text: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    code: str = ""
    image: str = ""  # HTML only: a data: URI
    status: str = ""  # "ok", "warn", "alert" or ""
    finding: str = ""  # one line for the summary at the top of the card


@dataclass(frozen=True)
class Card:
    name: str
    version: str
    title: str
    subtitle: str
    sections: list[Section]
    generated_at: str


@dataclass(frozen=True)
class PackPaths:
    name: str
    version: str
    run_id: str
    markdown: Path
    html: Path
    artifact_uri: str


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers for people: 4 decimals (thousands separated for big ones), 'n/a' for missing."""
    if value is None:
        return "n/a"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if not math.isfinite(v):
            return "n/a"
        if v.is_integer():
            return f"{int(v):,}"
        return f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:,.2f}"
    return str(value)


def pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}%}"


def data_window_from_card(markdown: str) -> dict[str, str]:
    """The `## Data window` bullets of a training-time `model_card.md` (runs logged before the
    training record existed)."""
    match = re.search(r"^## Data window\n(.*?)(?:^## |\Z)", markdown, flags=re.S | re.M)
    out: dict[str, str] = {}
    for line in (match.group(1) if match else "").splitlines():
        item = re.match(r"^- (\w+): (.+)$", line.strip())
        if item and not item.group(1).startswith("data"):
            out[item.group(1)] = item.group(2)
    return out


def decile_calibration(label: np.ndarray, score: np.ndarray, kind: str) -> pd.DataFrame:
    """Calibration by score decile: for a binary score the grade test (Jeffreys and binomial) per
    decile; for a regression the mean prediction against the mean outcome."""
    from tierwise.models import grade_table

    label, score = np.asarray(label, dtype=float), np.asarray(score, dtype=float)
    keep = np.isfinite(label) & np.isfinite(score)
    label, score = label[keep], score[keep]
    if kind == "binary":
        inner = np.unique(np.quantile(score, np.linspace(0.1, 0.9, 9)))
        inner = inner[(inner > 0) & (inner < 1)]
        bounds = [*inner.tolist(), 1.0]
        names = [f"D{i + 1}" for i in range(len(bounds))]
        return grade_table(label, score, bounds, names, alpha=ALPHA)
    decile = pd.qcut(pd.Series(score).rank(method="first"), 10, labels=[f"D{i + 1}" for i in range(10)])
    frame = pd.DataFrame({"decile": decile.astype("str"), "predicted": score, "actual": label})
    return (frame.groupby("decile", sort=False)
            .agg(n=("actual", "size"), mean_predicted=("predicted", "mean"), mean_actual=("actual", "mean"))
            .reset_index().sort_values("decile", key=lambda s: s.str[1:].astype(int)).reset_index(drop=True))


def grade_rows(grades: pd.DataFrame, *, events: str = "defaults", predicted: str = "mean PD") -> Table:
    """A grade (or decile) test table as the card shows it."""
    rows, classes = [], []
    for g in grades.itertuples(index=False):
        n = int(g.n)
        rows.append([str(g.grade), f"{pct(float(g.pd_from))} – {pct(float(g.pd_to))}", fmt(n), fmt(int(g.defaults)),
                     pct(float(g.mean_pd)), pct(float(g.observed_rate)),
                     f"{pct(float(g.jeffreys_low))} – {pct(float(g.jeffreys_high))}" if n else "n/a",
                     fmt(float(g.jeffreys_p), 3), fmt(float(g.binomial_p), 3),
                     ("pass" if _passed(g.passed) else "FAIL") if n else "no clients"])
        classes.append("" if _passed(g.passed) or not n else "alert")
    return Table(["grade", "PD range" if predicted == "mean PD" else "score range", "clients", events, predicted,
                  "observed rate",
                  f"Jeffreys {1 - ALPHA:.0%} interval", "Jeffreys p", "binomial p", "test"], rows,
                 row_classes=classes)


def _passed(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "1.0", "yes")


def fairness_decision(task: str, kind: str, thresholds: Mapping[str, float]) -> tuple[str, float | None]:
    """How a model's score becomes a decision for the fairness comparison: the policy threshold
    for churn and default, the top decile of scores otherwise."""
    if kind == "binary" and task == "churn" and "churn" in thresholds:
        return f"churn likelihood at or above the policy threshold {thresholds['churn']:.1%}", thresholds["churn"]
    if kind == "binary" and task == "default" and "default" in thresholds:
        return f"default risk at or above the policy limit {thresholds['default']:.1%}", thresholds["default"]
    return "score in the top decile of the evaluated rows", None


def model_fairness(rows: pd.DataFrame, *, kind: str, threshold: float | None, cfg: Any) -> list[dict[str, Any]]:
    """Selection rate per group and the selection-rate ratio (fairlearn, via
    `reports.compare_groups`) and the true-positive-rate difference against the rows' labels,
    for each protected attribute in `rows`. `threshold` None: top decile of scores."""
    from tierwise.reports import compare_groups

    score = rows["score"].astype(float)
    cut = threshold if threshold is not None else float(score.quantile(0.9))
    decision = (score >= cut).astype("float64")
    label = rows["label"].astype(float)
    if kind != "binary":  # a regression's "positive": an actual outcome in the top decile
        label = (label >= label.quantile(0.9)).astype("float64").where(rows["label"].notna())
    out = []
    for attribute in cfg.attributes:
        if attribute not in rows.columns:
            continue
        result = compare_groups(decision, rows[attribute].astype("str"), cfg, labels=label)
        ratio, diff = result["selection_rate_ratio"], result["tpr_difference"]
        breaches = []
        if ratio is not None and ratio < cfg.min_selection_rate_ratio:
            breaches.append(f"selection-rate ratio {ratio:.3f} below {cfg.min_selection_rate_ratio}")
        if diff is not None and diff > cfg.max_tpr_difference:
            breaches.append(f"true-positive-rate difference {diff:.3f} above {cfg.max_tpr_difference}")
        out.append({"attribute": attribute, **result, "breaches": breaches})
    return out


def score_stability(rows: pd.DataFrame, time_column: str | None, cfg: Any) -> list[dict[str, Any]]:
    """PSI of the score: the whole test period against the validation period (the baseline),
    then each test month against it. Warn/alert at `cfg.warn` / `cfg.alert`."""
    from tierwise.reports._monitor import psi, psi_status

    base = rows.loc[rows["split"] == "valid", "score"]
    test = rows[rows["split"] == "test"]
    if base.empty or test.empty:
        return []
    out = []

    def add(label: str, values: pd.Series) -> None:
        value = psi(base, values, bins=cfg.bins, epsilon=cfg.epsilon)
        out.append({"compared": label, "rows": len(values), "psi": value, "status": psi_status(value, cfg)})

    add("test period vs validation period", test["score"])
    if time_column and time_column in test.columns:
        months = pd.to_datetime(test[time_column]).dt.strftime("%Y-%m")
        if months.nunique() > 1:
            for month in sorted(months.unique()):
                add(f"test month {month} vs validation period", test.loc[months == month, "score"])
    return out


# ============================================================================ reading MLflow
@contextlib.contextmanager
def _quiet_downloads() -> Iterator[None]:
    """No tqdm bars from MLflow's artifact downloads on the user's terminal."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


class _RunFiles:
    """Lazy downloads of a run's artifacts into one temporary folder."""

    def __init__(self, client: Any, run_id: str, folder: Path) -> None:
        self.client, self.run_id, self.folder = client, run_id, folder
        self._listed: set[str] | None = None

    def has(self, path: str) -> bool:
        if self._listed is None:
            self._listed = {a.path for a in self.client.list_artifacts(self.run_id)}
        return path in self._listed

    def path(self, path: str) -> Path | None:
        if not self.has(path):
            return None
        with _quiet_downloads():
            return Path(self.client.download_artifacts(self.run_id, path, str(self.folder)))

    def text(self, path: str) -> str | None:
        p = self.path(path)
        return p.read_text(encoding="utf-8") if p is not None else None


def registered_version(client: Any, name: str, *, version: str | None = None, alias: str | None = None) -> str:
    """The version number for `--version` or `--alias` (default: the champion); one-line errors."""
    from mlflow.exceptions import MlflowException

    require_model(client, name)
    if version is not None:
        try:
            return str(client.get_model_version(name, str(version)).version)
        except MlflowException:
            raise DataError(f"{name}: no version {version} (versions: {', '.join(all_versions(client, name))})") from None
    alias = alias or tracking.CHAMPION
    found = tracking.alias_version(client, name, alias)
    if found is None:
        raise DataError(f"{name}: no version has the alias '{alias}'")
    return found


def require_model(client: Any, name: str) -> None:
    """A one-line DataError naming the registered models when `name` is not one of them."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        known = sorted(m.name for m in client.search_registered_models())
        raise DataError(f"{name}: no registered model of that name"
                        + (f" (registered: {', '.join(known)})" if known else " (the registry is empty)")) from None


def all_versions(client: Any, name: str) -> list[str]:
    versions = client.search_model_versions(f"name='{name}'")
    return sorted((str(v.version) for v in versions), key=int)


_USERS_TASK = ("data scientists and model-risk reviewers (this card); the monthly scoring job and the tier policy "
               "(the scores); relationship managers (the explained scores on the client cards)")
_USERS_FLAT = ("data scientists and model-risk reviewers (this card); whoever scores tables with "
               "`tierwise predict`")


def _section_purpose(task: str, config: Mapping[str, Any], mv: Any, run: Any) -> Section:
    intended = str(config.get("intended_use") or "").strip() or "Not stated in the task configuration."
    bullets = [f"task `{task}` ({config.get('kind', 'n/a')})"
               + (f": {config['description']}" if config.get("description") else ""),
               f"registered as `{mv.name}` version {mv.version} (run `{run.info.run_id}`, "
               f"experiment `{run.info.experiment_id}`), created {_ms_time(mv.creation_timestamp)}",
               "intended users: " + (_USERS_TASK if task in TASKS else _USERS_FLAT)]
    return Section("purpose", "Purpose and intended users", text=[intended], bullets=bullets)


def _ms_time(ms: Any) -> str:
    if not ms:
        return "n/a"
    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _section_data(record: Mapping[str, Any], run: Any, fingerprint: str) -> Section:
    window = record.get("data_window") or {}
    bullets = [f"{split}: {text}" for split, text in window.items()] or ["the data window was not logged"]
    params = run.data.params
    if params.get("data_dir"):
        bullets.append(f"source: `{params['data_dir']}`" + (f", {params['snapshots']} snapshot months"
                                                            if params.get("snapshots") else ""))
    text = [f"Input data fingerprint (SHA-256 of the model frame): `{fingerprint or 'not logged'}`."]
    if record.get("scope"):
        text.append(f"Metrics below are on the {record['scope']}.")
    return Section("data", "Data window and fingerprint", text=text, bullets=bullets)


def _section_features(model: Any, config: Mapping[str, Any], catalog: Mapping[str, Any],
                      importance: pd.DataFrame | None) -> Section:
    names = list(getattr(model, "feature_names_", []) or [])
    share: dict[str, float] = {}
    if importance is not None and len(importance.columns) >= 2:
        values = importance.set_index(importance.columns[0])[importance.columns[1]].astype(float)
        total = float(values.sum())
        if total > 0:
            share = (values / total).to_dict()
    monotone = config.get("monotone") or {}
    rows = []
    order = sorted(names, key=lambda n: (-share.get(n, 0.0), names.index(n)))
    for n in order:
        info = catalog.get(n)
        rows.append([f"`{n}`", info.description if info else "—", info.unit if info else "—",
                     {1: "increasing", -1: "decreasing"}.get(monotone.get(n), ""),
                     pct(share[n], 1) if n in share else "n/a"])
    categorical = list(getattr(model, "categories_", {}) or {})
    text = [f"{len(names)} model inputs; chosen candidate **{getattr(model, 'candidate_', 'n/a')}**"
            + (f"; categorical: {', '.join(f'`{c}`' for c in categorical)}" if categorical else "") + ".",
            "Protected attributes (gender, age band) are carried for the fairness check only and are "
            + ("model inputs here." if any(p in names for p in PROTECTED) else "not model inputs.")]
    calibrator = getattr(model, "calibrator_", None)
    if calibrator is not None:
        text.append(f"Calibration: {calibrator.method_} on {calibrator.n_fit_} held-out rows.")
    return Section("features", "Features", text=text,
                   tables=[Table(["feature", "description", "unit", "monotone", "importance (gain share)"], rows)])


_KEY_METRICS = ("roc_auc", "pr_auc", "ks", "brier", "ece", "lift_top_decile", "capture_top_decile", "spearman",
                "rmse", "oracle_roc_auc", "oracle_ratio", "cv_roc_auc_mean", "cv_roc_auc_std", "oof_ece", "oof_brier",
                "cv_spearman_mean", "cv_rmse_mean", "grades_failing_jeffreys")


def _section_metrics(metrics: Mapping[str, float], record: Mapping[str, Any]) -> Section:
    first = [k for k in _KEY_METRICS if k in metrics]
    rest = sorted(k for k in metrics if k not in first and not k.startswith(("rows_", "valid_")))
    rows = [[f"`{k}`", fmt(metrics[k])] for k in (*first, *rest)]
    selection = [[f"`{k}`", fmt(metrics[k])] for k in sorted(metrics) if k.startswith("valid_")]
    tables = [Table(["metric", "value"], rows, caption=f"on the {record.get('scope', 'evaluation data')}")]
    if selection:
        tables.append(Table(["candidate (validation, model selection)", "value"], selection))
    counts = ", ".join(f"{split} {fmt(metrics[f'rows_{split}'])}" for split in ("train", "valid", "test")
                       if f"rows_{split}" in metrics)
    headline = next((k for k in ("roc_auc", "spearman", "cv_roc_auc_mean", "cv_spearman_mean") if k in metrics), None)
    finding = (f"{headline} {fmt(metrics[headline])}" + (f", oracle ratio {fmt(metrics['oracle_ratio'])}"
                                                         if "oracle_ratio" in metrics else "")) if headline else ""
    return Section("metrics", "Metrics on the out-of-time test" if record.get("split_column") else "Metrics",
                   text=[f"Rows: {counts}."] if counts else [], tables=tables, finding=finding)


def _section_calibration(grades: pd.DataFrame | None, rows: pd.DataFrame | None, kind: str,
                         metrics: Mapping[str, float], image: str) -> Section:
    text, tables, status, finding = [], [], "", ""
    summary = [f"{k} {fmt(metrics[k])}" for k in ("ece", "brier", "oof_ece", "oof_brier") if k in metrics]
    if summary:
        text.append("Overall: " + ", ".join(summary) + ".")
    if grades is not None and len(grades):
        failing = int(sum(1 for g, n in zip(grades["passed"], grades["n"], strict=True) if int(n) and not _passed(g)))
        status = "alert" if failing else "ok"
        finding = f"{failing} of {int((grades['n'] > 0).sum())} populated grades fail the Jeffreys test"
        text.append(f"By rating grade on the test rows: {failing} of {int((grades['n'] > 0).sum())} populated grades "
                    f"fail the one-sided Jeffreys test at {ALPHA:.0%} (the grade's mean PD is too low for the "
                    "defaults observed); the two-sided exact binomial test is shown beside it.")
        tables.append(grade_rows(grades))
    elif rows is not None and len(rows):
        part = rows[rows["split"].isin(("test", "oof"))]
        table = decile_calibration(part["label"].to_numpy(), part["score"].to_numpy(), kind)
        if kind == "binary":
            failing = int(sum(1 for g, n in zip(table["passed"], table["n"], strict=True) if int(n) and not _passed(g)))
            status = "warn" if failing else "ok"
            finding = f"{failing} of {len(table)} score deciles fail the Jeffreys test"
            text.append(f"No rating grades for this task: calibration by score decile on the evaluated rows, with the "
                        f"same tests ({failing} of {len(table)} deciles fail the Jeffreys test at {ALPHA:.0%}).")
            tables.append(grade_rows(table, events="events", predicted="mean predicted"))
        else:
            text.append("Regression: mean prediction against mean outcome by decile of the prediction.")
            finding = (f"mean predicted {fmt(float(part['score'].mean()))} vs mean actual "
                       f"{fmt(float(part['label'].mean()))}; decile means "
                       + ("in order" if table["mean_actual"].is_monotonic_increasing else "not in order"))
            tables.append(Table(["decile", "rows", "mean predicted", "mean actual"],
                                [[r.decile, fmt(int(r.n)), fmt(float(r.mean_predicted)), fmt(float(r.mean_actual))]
                                 for r in table.itertuples(index=False)]))
    else:
        text.append("Not available: the run logged neither grades.csv nor scored rows.")
        status, finding = "warn", "not available"
    if not finding and summary:
        finding = ", ".join(summary)
    return Section("calibration", "Calibration by grade, with test results", text=text, tables=tables,
                   image=image, status=status, finding=finding)


def _section_fairness(results: list[dict[str, Any]] | None, decision: str, cfg: Any, split_note: str) -> Section:
    if results is None:
        return Section("fairness", "Fairness", status="warn", finding="not computed",
                       text=["Not computed: the run did not log scored rows with protected attributes "
                             "(trained before the governance pack, or a table without them)."])
    if not results:
        return Section("fairness", "Fairness", status="warn", finding="not computed",
                       text=["Not computed: the scored rows carry none of the configured protected attributes "
                             f"({', '.join(cfg.attributes)})."])
    text = [f"Decision compared: {decision}; on the {split_note} logged at training (protected attributes "
            "carried with the rows, never model inputs unless configured). Selection-rate ratio (lowest over highest "
            f"group) must be at least {cfg.min_selection_rate_ratio}; the true-positive-rate difference against "
            f"the realised labels at most {cfg.max_tpr_difference}. Groups under {cfg.min_group_size} rows "
            f"(or {cfg.min_positives} positives for the TPR) are listed but not compared."]
    tables, bullets = [], []
    breached = False
    for res in results:
        rows = [[g["group"], fmt(g["clients"]), pct(g["selection_rate"], 1), fmt(g.get("positives")),
                 pct(g["tpr"], 1) if g.get("tpr") is not None else "n/a"] for g in res["groups"]]
        caption = (f"{res['attribute']}: selection-rate ratio {fmt(res['selection_rate_ratio'], 3)}, "
                   f"TPR difference {fmt(res['tpr_difference'], 3)}")
        tables.append(Table(["group", "rows", "selection rate", "positives", "true-positive rate"], rows,
                            caption=caption))
        for b in res["breaches"]:
            breached = True
            bullets.append(f"BREACH ({res['attribute']}): {b}")
        for e in res["excluded"]:
            bullets.append(f"{res['attribute']}: group {e} not compared")
    if not breached:
        bullets.insert(0, "No fairness threshold is breached.")
    ratios = [r["selection_rate_ratio"] for r in results if r["selection_rate_ratio"] is not None]
    count = sum(len(r["breaches"]) for r in results)
    finding = (f"{count} breach(es)" if breached else "no breach") + (
        f"; lowest selection-rate ratio {min(ratios):.3f}" if ratios else "")
    return Section("fairness", "Fairness", text=text, bullets=bullets, tables=tables,
                   status="alert" if breached else "ok", finding=finding)


def _section_stability(results: list[dict[str, Any]] | None, cfg: Any) -> Section:
    if not results:
        why = ("the run logged no scored rows" if results is None
               else "there is no validation period to compare with (a cross-validated flat table)")
        return Section("stability", "Stability", text=[f"Not computed: {why}."], status="warn",
                       finding="not computed")
    rows = [[r["compared"], fmt(r["rows"]), fmt(r["psi"]), r["status"]] for r in results]
    worst = "alert" if any(r["status"] == "alert" for r in results) else (
        "warn" if any(r["status"] == "warn" for r in results) else "ok")
    text = [f"Population stability index of the score, validation period as the baseline ({cfg.bins} quantile "
            f"bins): below {cfg.warn} stable, {cfg.warn} to {cfg.alert} warn, {cfg.alert} or more alert. "
            "After deployment the monthly portfolio monitor (`tierwise monitor`) tracks the same index."]
    return Section("stability", "Stability", text=text, status=worst,
                   finding=f"highest score PSI {max(r['psi'] for r in results):.3f}",
                   tables=[Table(["compared", "rows", "PSI", "status"], rows,
                                 row_classes=["" if r["status"] == "ok" else r["status"] for r in results])])


def _section_limitations(config: Mapping[str, Any], extra: Sequence[str]) -> Section:
    items = [str(x) for x in (config.get("limitations") or [])] or ["None stated in the task configuration."]
    return Section("limitations", "Known limitations", bullets=[*items, *extra])


def approval_section(tags: Mapping[str, str], aliases: Sequence[str], champion: str | None,
                     *, automatic: str = "as the first registered version") -> Section:
    """Who approved the version and when, the figures compared, the last review; or why not.
    `automatic`: how a version becomes champion without a review."""
    alias_text = ", ".join(aliases) if aliases else "none"
    bullets = [f"aliases now: {alias_text}" + (f" (champion is version {champion})" if champion and
                                               "champion" not in aliases else "")]
    if tags.get("approved_by"):
        verb = ("promoted to champion" if tags.get("approval_decision") == "promoted"
                else "confirmed as champion")
        text = [f"**Approved** by **{tags['approved_by']}** at {tags.get('approved_at', 'n/a')} ({verb} with "
                "`tierwise promote`)."]
        bullets.append(_figures("approval", tags))
        status = "ok" if "champion" in aliases else "warn"
        finding = f"approved by {tags['approved_by']} at {tags.get('approved_at', 'n/a')}"
        if "champion" not in aliases:
            bullets.append("no longer champion: superseded by a later promotion")
            finding += "; no longer champion"
    else:
        text = ["**Not approved / not champion by review**: no `tierwise promote` has approved this version"
                + (f" (it became champion automatically {automatic})." if "champion" in aliases else ".")]
        status, finding = "warn", "not approved" + ("" if "champion" in aliases else " / not champion")
    if tags.get("last_review_by"):
        bullets.append(f"last review: {tags['last_review_decision']} by {tags['last_review_by']} at "
                       f"{tags.get('last_review_at', 'n/a')}; " + _figures("last_review", tags))
    return Section("approval", "Approval", text=text, bullets=bullets, status=status, finding=finding)


def recommender_approval(tags: Mapping[str, str], aliases: Sequence[str], champion: str | None, *,
                         bundle_approved: bool, built: str) -> Section:
    """The recommender has no promotion step: `tierwise recommend` points `champion` at each new
    bundle. Its approval is that of the bundled versions (and an explicit review, if one is tagged)."""
    base = approval_section(tags, aliases, champion, automatic="when `tierwise recommend` built it")
    if tags.get("approved_by"):
        return base
    text = [f"Built by **{built}** with `tierwise recommend`; the bundle has no promotion step of its own, so it "
            "is approved exactly when every bundled task-model version is."]
    status = "ok" if bundle_approved else "alert"
    finding = ("every bundled version approved" if bundle_approved else "bundles a version that is not approved")
    return Section("approval", "Approval", text=text, bullets=base.bullets, status=status, finding=finding)


def summary_section(sections: Sequence[Section]) -> Section:
    """One row per section that has a finding: the reviewer's first look."""
    rows = [[s.title, s.status or "—", s.finding] for s in sections if s.finding]
    return Section("summary", "Summary", tables=[Table(["check", "status", "finding"], rows,
                                                       row_classes=[s.status if s.status in ("warn", "alert") else ""
                                                                    for s in sections if s.finding])])


def _figures(prefix: str, tags: Mapping[str, str]) -> str:
    def num(key: str) -> str:
        raw = tags.get(f"{prefix}_{key}", "none")
        try:
            return f"{float(raw):.4f}"
        except ValueError:
            return raw

    return (f"{tags.get(f'{prefix}_metric', 'metric')} challenger v{tags.get(f'{prefix}_challenger_version', '?')} "
            f"{num('challenger_value')} vs champion v{tags.get(f'{prefix}_champion_version', 'none')} "
            f"{num('champion_value')} on {tags.get(f'{prefix}_rows', '?')} rows (data fingerprint "
            f"`{tags.get(f'{prefix}_data_fingerprint', 'not recorded')}`)")


def _image_uri(path: Path | None) -> str:
    if path is None:
        return ""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _read_csv(path: Path | None) -> pd.DataFrame | None:
    return pd.read_csv(path) if path is not None else None


def _version_tags(mv: Any) -> dict[str, str]:
    return dict(mv.tags or {})


def _fairness_settings(config_dir: Path | None) -> tuple[Any, Any, dict[str, float]]:
    """Fairness and PSI settings from `monitor.yaml`, decision thresholds from `policy.yaml`
    (the same single source of truth as `tierwise monitor`); defaults when the files are absent."""
    from tierwise.config import default_config_dir, load_config
    from tierwise.reports import MonitorConfig

    folder = Path(config_dir) if config_dir is not None else default_config_dir()
    cfg = (load_config(folder / "monitor.yaml", MonitorConfig) if (folder / "monitor.yaml").is_file()
           else MonitorConfig())
    thresholds = {"churn": cfg.fairness.churn_threshold, "default": cfg.fairness.default_threshold}
    if (folder / "policy.yaml").is_file():
        from tierwise.models import PolicyConfig

        policy = load_config(folder / "policy.yaml", PolicyConfig)
        thresholds = {"churn": policy.retention.min_p_churn, "default": policy.risk.pd_limit}
    return cfg.fairness, cfg.psi, thresholds


def _catalog(config_dir: Path | None) -> dict[str, Any]:
    from tierwise.features import FeatureConfig, feature_catalog
    from tierwise.config import default_config_dir, load_config

    folder = Path(config_dir) if config_dir is not None else default_config_dir()
    path = folder / "features.yaml"
    return feature_catalog(load_config(path, FeatureConfig)) if path.is_file() else {}


def task_card(client: Any, name: str, version: str, *, config_dir: Path | None = None) -> Card:
    """The card of one task-model version, from the registry and the version's run."""
    from tierwise.training import load_model

    mv = client.get_model_version(name, version)
    run = client.get_run(mv.run_id)
    with tempfile.TemporaryDirectory() as tmp:
        files = _RunFiles(client, mv.run_id, Path(tmp))
        logged = yaml.safe_load(files.text("config.yaml") or "{}") or {}
        config = logged.get("task", logged) if isinstance(logged.get("task"), dict) else logged
        record = json.loads(files.text(TRAINING_RECORD) or "{}")
        if not record.get("data_window"):
            record["data_window"] = data_window_from_card(files.text("model_card.md") or "")
        grades = _read_csv(files.path("grades.csv"))
        importance = _read_csv(files.path("importance.csv"))
        rows_path = files.path(SCORED_ROWS)
        rows = pd.read_parquet(rows_path) if rows_path is not None else None
        image = _image_uri(files.path("calibration.png") or files.path("predicted_vs_actual.png"))
    model = load_model(f"models:/{name}/{version}")
    kind = record.get("kind") or getattr(model, "kind", config.get("kind", "binary"))
    task = str(config.get("task") or run.data.tags.get("tierwise.task") or name)
    fingerprint = record.get("fingerprint") or run.data.params.get("data_fingerprint", "")
    fair_cfg, psi_cfg, thresholds = _fairness_settings(config_dir)
    decision, threshold = fairness_decision(task, kind, thresholds)
    fairness = stability = None
    split_note = "evaluated rows"
    if rows is not None:
        evaluated = rows[rows["split"].isin(("test", "oof"))]
        split_note = "out-of-time test rows" if (evaluated["split"] == "test").any() else "out-of-fold rows"
        fairness = model_fairness(evaluated, kind=kind, threshold=threshold, cfg=fair_cfg)
        stability = score_stability(rows, record.get("time_column"), psi_cfg)
    champion = tracking.alias_version(client, name, tracking.CHAMPION)
    extra = []
    if record.get("scope") and not record.get("split_column"):
        extra.append("Evaluated by cross-validation on one table, not on a later period: no out-of-time evidence.")
    sections = [
        _section_purpose(task, config, mv, run),
        _section_data(record, run, fingerprint),
        _section_features(model, config, _catalog(config_dir), importance),
        _section_metrics(run.data.metrics, record),
        _section_calibration(grades, rows, kind, run.data.metrics, image),
        _section_fairness(fairness, decision, fair_cfg, split_note),
        _section_stability(stability, psi_cfg),
        _section_limitations(config, extra),
        approval_section(_version_tags(mv), list(mv.aliases or []), champion),
    ]
    sections.insert(0, summary_section(sections))
    return Card(name, str(version), f"Model card: {name} version {version}",
                str(config.get("description") or ""), sections, utc_now())


def recommender_card(client: Any, name: str, version: str, *, config_dir: Path | None = None) -> Card:
    """The recommender's card: the task-model versions it bundles (with their approval), the
    policy cut-offs and configuration it was built with."""
    mv = client.get_model_version(name, version)
    run = client.get_run(mv.run_id)
    params = run.data.params
    rows, classes = [], []
    for task in TASKS:
        bundled = params.get(f"{task}_version")
        task_name = tracking.registered_name(task)
        if bundled is None:
            rows.append([task_name, "not logged", "", ""])
            classes.append("warn")
            continue
        try:
            tags = _version_tags(client.get_model_version(task_name, bundled))
        except Exception:  # noqa: BLE001 - a deleted version is reported, not fatal
            tags = {}
        approved = (f"approved by {tags['approved_by']} at {tags.get('approved_at', 'n/a')}"
                    if tags.get("approved_by") else "not approved")
        card = tags.get(CARD_TAG, "no card yet: `tierwise governance --model " + task_name + f" --version {bundled}`")
        rows.append([task_name, f"v{bundled}", approved, card])
        classes.append("" if tags.get("approved_by") else "warn")
    policy_text = ""
    with tempfile.TemporaryDirectory() as tmp:
        for path in ("model/artifacts/configs/policy.yaml", "model/artifacts/policy.yaml"):
            try:
                with _quiet_downloads():
                    policy_text = Path(client.download_artifacts(mv.run_id, path, tmp)).read_text(encoding="utf-8")
                break
            except Exception:  # noqa: BLE001, S112 - try the next layout
                continue
    cuts = [[f"`{k.removeprefix('cut_')}`", v] for k, v in sorted(params.items()) if k.startswith("cut_")]
    sections = [
        Section("purpose", "Purpose and intended users",
                text=["Bundles the three task champions, the tier policy and the reason catalogues into one "
                      "self-contained MLflow pyfunc: for every client the three scores, the tier and channel, the "
                      "flags and the top reasons in English and Chinese."],
                bullets=["intended users: the monthly scoring job (`tierwise score`), online serving "
                         "(`tierwise serve`), relationship managers through the client cards and RM report",
                         f"registered as `{name}` version {version} (run `{mv.run_id}`), created "
                         f"{_ms_time(mv.creation_timestamp)}"]),
        Section("models", "Bundled model versions",
                text=["Each task model has its own card (fairness, calibration, stability); this bundle is only as "
                      "approved as the versions inside it."],
                tables=[Table(["model", "version", "approval", "card"], rows, row_classes=classes)],
                status="warn" if any(classes) else "ok",
                finding=f"{sum(1 for c in classes if not c)} of {len(classes)} bundled versions approved"),
        Section("policy", "Tier policy",
                text=[f"Tier cut-offs learnt on {params.get('reference_clients', 'n/a')} reference clients."],
                tables=[Table(["cut-off", "value"], cuts)] if cuts else [],
                code=policy_text),
        Section("limitations", "Known limitations", bullets=[
            "The bundle freezes the task-model versions at build time: after a promotion run `tierwise recommend` "
            "again.",
            "Tier cut-offs are relative to the reference month's client base; a shifted portfolio moves them.",
            "Fairness of the tier assignment itself is checked monthly by `tierwise monitor` on scored clients, "
            "not here.",
        ]),
        recommender_approval(_version_tags(mv), list(mv.aliases or []),
                             tracking.alias_version(client, name, tracking.CHAMPION),
                             bundle_approved=bool(rows) and not any(classes),
                             built=f"{run.info.user_id or 'unknown'} at {_ms_time(run.info.start_time)}"),
    ]
    sections.insert(0, summary_section(sections))
    return Card(name, str(version), f"Model card: {name} version {version}",
                "The tier recommender (尊享 Premier, 卓越 Excellence, 潜力 Potential, 一般 General)", sections, utc_now())


# ============================================================================ rendering
def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(card: Card) -> str:
    from tierwise.reports._rm_report import template_env

    env = template_env()
    env.filters["cell"] = _md_cell
    return env.get_template("governance_card.md.j2").render(card=card)


def render_html(card: Card) -> str:
    """One self-contained page: inline CSS, images as data: URIs, no scripts or fonts from elsewhere."""
    from tierwise.reports._rm_report import template_env

    env = template_env()
    env.filters["inline_md"] = _inline_md
    return env.get_template("governance_card.html.j2").render(card=card)


def _inline_md(text: str) -> Any:
    """`code` and **bold** of the card's plain text as HTML (the text is escaped first)."""
    from markupsafe import Markup, escape

    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
    return Markup(html)


# ============================================================================ the pack
def write_pack(name: str, *, version: str | None = None, alias: str | None = None, out_dir: Path = DEFAULT_OUT,
               config_dir: Path | None = None, log_to_mlflow: bool = True) -> PackPaths:
    """Write `card.md` and `card.html` for one registered version (default: the champion) under
    `out_dir/<name>/v<version>/`, log them to the version's run under `governance/` and tag the
    version with `governance_card` (the artifact URI of the HTML card)."""
    from tierwise.features import write_text_atomic

    client = tracking.connect()
    version = registered_version(client, name, version=version, alias=alias)
    builder = recommender_card if name == RECOMMENDER else task_card
    card = builder(client, name, version, config_dir=config_dir)
    folder = Path(out_dir) / name / f"v{version}"
    md = write_text_atomic(folder / "card.md", render_markdown(card))
    html = write_text_atomic(folder / "card.html", render_html(card))
    run_id = client.get_model_version(name, version).run_id
    uri = f"runs:/{run_id}/{ARTIFACT_DIR}/card.html"
    if log_to_mlflow:
        client.log_artifact(run_id, str(md), ARTIFACT_DIR)
        client.log_artifact(run_id, str(html), ARTIFACT_DIR)
        client.set_model_version_tag(name, version, CARD_TAG, uri)
        client.set_model_version_tag(name, version, f"{CARD_TAG}_at", card.generated_at)
    logger.info("%s v%s: governance card in %s", name, version, folder)
    return PackPaths(name, version, run_id, md, html, uri)


def write_packs(name: str, *, out_dir: Path = DEFAULT_OUT, config_dir: Path | None = None) -> list[PackPaths]:
    """The pack of every registered version of `name`."""
    client = tracking.connect()
    require_model(client, name)
    return [write_pack(name, version=v, out_dir=out_dir, config_dir=config_dir) for v in all_versions(client, name)]
