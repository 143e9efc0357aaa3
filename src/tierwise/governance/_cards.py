"""The parts of a governance card (`Table`, `Section`, `Card`) and the small pure functions
that build each section from what a run logged. The templates only lay them out."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierwise.features import TASKS
from tierwise.governance._checks import ALPHA, decile_calibration
from tierwise.governance._records import PROTECTED
from tierwise.models import DEFAULT_CURRENCY, format_money, format_probability
from tierwise.reports import interval_text, support_note


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
    """A share or a rate (selection rates, feature shares) to `digits` decimals."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}%}"


def pd_text(value: float | None) -> str:
    """A PD as every output writes it (`models.format_probability`): "0.47%", "2.1%"."""
    return "n/a" if value is None or not math.isfinite(value) else format_probability(value)


def money(value: Any, currency: str = DEFAULT_CURRENCY) -> str:
    """An amount as every output writes it (`models.format_money`, English): "¥28,600",
    "¥1.38 million"; the value itself when it is not a number."""
    try:
        return format_money(float(value), "en", currency) or "n/a"
    except (TypeError, ValueError):
        return str(value)


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


def grade_rows(grades: pd.DataFrame, *, events: str = "defaults", predicted: str = "mean PD") -> Table:
    """A grade (or decile) test table as the card shows it."""
    rows, classes = [], []
    for g in grades.itertuples(index=False):
        n = int(g.n)
        rows.append([str(g.grade), f"{pd_text(float(g.pd_from))} – {pd_text(float(g.pd_to))}", fmt(n),
                     fmt(int(g.defaults)), pd_text(float(g.mean_pd)), pd_text(float(g.observed_rate)),
                     f"{pd_text(float(g.jeffreys_low))} – {pd_text(float(g.jeffreys_high))}" if n else "n/a",
                     fmt(float(g.jeffreys_p), 3), fmt(float(g.binomial_p), 3),
                     ("pass" if _passed(g.passed) else "FAIL") if n else "no clients"])
        classes.append("" if _passed(g.passed) or not n else "alert")
    return Table(["grade", "PD range" if predicted == "mean PD" else "score range", "clients", events, predicted,
                  "observed rate",
                  f"Jeffreys {1 - ALPHA:.0%} interval", "Jeffreys p", "binomial p", "test"], rows,
                 row_classes=classes)


def _passed(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "1.0", "yes")


_USERS_TASK = ("data scientists and model-risk reviewers (this card); the monthly scoring job and the tier policy "
               "(the scores); relationship managers (the explained scores on the client cards)")
_USERS_FLAT = ("data scientists and model-risk reviewers (this card); whoever scores tables with "
               "`tierwise predict`")


def section_purpose(task: str, config: Mapping[str, Any], mv: Any, run: Any) -> Section:
    intended = str(config.get("intended_use") or "").strip() or "Not stated in the task configuration."
    bullets = [f"task `{task}` ({config.get('kind', 'n/a')})"
               + (f": {config['description']}" if config.get("description") else ""),
               f"registered as `{mv.name}` version {mv.version} (run `{run.info.run_id}`, "
               f"experiment `{run.info.experiment_id}`), created {ms_time(mv.creation_timestamp)}",
               "intended users: " + (_USERS_TASK if task in TASKS else _USERS_FLAT)]
    return Section("purpose", "Purpose and intended users", text=[intended], bullets=bullets)


def ms_time(ms: Any) -> str:
    if not ms:
        return "n/a"
    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def section_data(record: Mapping[str, Any], run: Any, fingerprint: str) -> Section:
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


def section_features(model: Any, config: Mapping[str, Any], catalog: Mapping[str, Any],
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


def section_metrics(metrics: Mapping[str, float], record: Mapping[str, Any]) -> Section:
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


def section_calibration(grades: pd.DataFrame | None, rows: pd.DataFrame | None, kind: str,
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


def section_fairness(results: list[dict[str, Any]] | None, decision: str, cfg: Any, split_note: str) -> Section:
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
            f"(or {cfg.min_positives} positives for the TPR) are listed but not compared; a ratio alerts only when "
            f"both groups it compares have {cfg.min_events} or more selected rows"
            + (" and its interval lies below 1 (a TPR difference: above 0)" if cfg.require_significance else "")
            + ". The 'unknown' group (attribute "
            "not recorded) is reported apart and never enters a ratio. Intervals are "
            f"{cfg.confidence:.0%} (Wilson for rates, log scale for the ratio, Newcombe for the difference)."]
    tables, bullets = [], []
    breached = False
    for res in results:
        rows = [_group_row(g) for g in res["groups"]]
        classes = [""] * len(rows)
        if res.get("unknown"):
            rows.append(_group_row(res["unknown"], name="unknown (reported apart, not compared)"))
            classes.append("muted")
        between = f" ({' against '.join(res['ratio_groups'])})" if res.get("ratio_groups") else ""
        caption = (f"{res['attribute']}: selection-rate ratio {fmt(res['selection_rate_ratio'], 3)}{between}, "
                   f"interval {interval_text(res.get('selection_rate_ratio_ci'))}; TPR difference "
                   f"{fmt(res['tpr_difference'], 3)}, interval {interval_text(res.get('tpr_difference_ci'))}")
        tables.append(Table(["group", "rows", "selected", "selection rate", "interval", "positives",
                             "true-positive rate", "interval"], rows, caption=caption, row_classes=classes))
        for b in res["breaches"]:
            breached = True
            bullets.append(f"BREACH ({res['attribute']}): {b}")
        note = support_note(res, cfg)
        if note:
            bullets.append(f"{res['attribute']}: {note}")
        for e in res["excluded"]:
            bullets.append(f"{res['attribute']}: group {e}" + ("" if e.startswith("unknown") else " not compared"))
    if not breached:
        bullets.insert(0, "No fairness threshold is breached.")
    ratios = [r["selection_rate_ratio"] for r in results if r["selection_rate_ratio"] is not None]
    count = sum(len(r["breaches"]) for r in results)
    finding = (f"{count} breach(es)" if breached else "no breach") + (
        f"; lowest selection-rate ratio {min(ratios):.3f}" if ratios else "")
    return Section("fairness", "Fairness", text=text, bullets=bullets, tables=tables,
                   status="alert" if breached else "ok", finding=finding)


def _group_row(group: Mapping[str, Any], name: str | None = None) -> list[str]:
    """One group of a fairness table: size, selection rate and TPR with their intervals."""
    tpr = group.get("tpr")
    return [name or group["group"], fmt(group["clients"]), fmt(group.get("selected")), pct(group["selection_rate"], 1),
            _pct_interval(group.get("selection_rate_ci")), fmt(group.get("positives")),
            pct(tpr, 1) if tpr is not None else "n/a", _pct_interval(group.get("tpr_ci"))]


def _pct_interval(ci: Sequence[float | None] | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "n/a"
    return f"{pct(ci[0], 1)} to {pct(ci[1], 1)}"


def section_stability(results: list[dict[str, Any]] | None, cfg: Any) -> Section:
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


def section_limitations(config: Mapping[str, Any], extra: Sequence[str]) -> Section:
    items = [str(x) for x in (config.get("limitations") or [])] or ["None stated in the task configuration."]
    return Section("limitations", "Known limitations", bullets=[*items, *extra])


def open_alerts(sections: Sequence[Section]) -> list[str]:
    """The card's open alerts, one line each ('Fairness: 1 breach(es)'): what an approval cannot clear."""
    return [f"{s.title}: {s.finding}" if s.finding else s.title for s in sections if s.status == "alert"]


def approval_section(tags: Mapping[str, str], aliases: Sequence[str], champion: str | None,
                     *, automatic: str = "as the first registered version", alerts: Sequence[str] = ()) -> Section:
    """Who approved the version and when, the figures compared, the last review; or why not.
    `automatic`: how a version becomes champion without a review. `alerts`: the card's open
    alerts (`open_alerts`); an approval given with alerts open is never shown as 'ok': the
    section says what the approver acknowledged (the comparison) and lists what stays open."""
    alias_text = ", ".join(aliases) if aliases else "none"
    bullets = [f"aliases now: {alias_text}" + (f" (champion is version {champion})" if champion and
                                               "champion" not in aliases else "")]
    if tags.get("approved_by"):
        verb = ("promoted to champion" if tags.get("approval_decision") == "promoted"
                else "confirmed as champion")
        text = [f"**Approved** by **{tags['approved_by']}** at {tags.get('approved_at', 'n/a')} ({verb} with "
                "`tierwise promote`)."]
        bullets.append("the approver acknowledged: " + _figures("approval", tags))
        status = "ok" if "champion" in aliases else "warn"
        finding = f"approved by {tags['approved_by']} at {tags.get('approved_at', 'n/a')}"
        if "champion" not in aliases:
            bullets.append("no longer champion: superseded by a later promotion")
            finding += "; no longer champion"
        if alerts:
            status = "warn"
            finding += f"; {len(alerts)} open alert(s) not cleared by the approval"
            text.append(f"The approval covers the comparison with the champion only: {len(alerts)} alert(s) of "
                        "this card remain open and need their own sign-off.")
            bullets.extend(f"open alert: {a}" for a in alerts)
    else:
        text = ["**Not approved / not champion by review**: no `tierwise promote` has approved this version"
                + (f" (it became champion automatically {automatic})." if "champion" in aliases else ".")]
        status, finding = "warn", "not approved" + ("" if "champion" in aliases else " / not champion")
        bullets.extend(f"open alert: {a}" for a in alerts)
    if tags.get("last_review_by"):
        bullets.append(f"last review: {tags['last_review_decision']} by {tags['last_review_by']} at "
                       f"{tags.get('last_review_at', 'n/a')}; " + _figures("last_review", tags))
    return Section("approval", "Approval", text=text, bullets=bullets, status=status, finding=finding)


def recommender_approval(tags: Mapping[str, str], aliases: Sequence[str], champion: str | None, *,
                         bundle_approved: bool, built: str, alerts: Sequence[str] = ()) -> Section:
    """The recommender has no promotion step: `tierwise recommend` points `champion` at each new
    bundle. Its approval is that of the bundled versions (and an explicit review, if one is
    tagged). `alerts`: the bundled versions' open card alerts; with any open the approval is
    never 'ok': it says the versions were approved and lists what stays open."""
    base = approval_section(tags, aliases, champion, automatic="when `tierwise recommend` built it", alerts=alerts)
    if tags.get("approved_by"):
        return base
    text = [f"Built by **{built}** with `tierwise recommend`; the bundle has no promotion step of its own, so it "
            "is approved exactly when every bundled task-model version is."]
    status = "ok" if bundle_approved else "alert"
    finding = ("every bundled version approved" if bundle_approved else "bundles a version that is not approved")
    if alerts and bundle_approved:
        status = "warn"
        finding += f"; {len(alerts)} open alert(s) on the bundled cards, not cleared by those approvals"
        text.append("The approvals cover each version's comparison with its champion only; the open alerts below "
                    "need their own sign-off.")
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

    champion = tags.get(f"{prefix}_champion_version", "none")
    challenger = tags.get(f"{prefix}_challenger_version", "?")
    metric = tags.get(f"{prefix}_metric", "metric")
    if champion in ("none", challenger):  # the first version, or the champion reviewed again
        compared = f"{metric} v{challenger} {num('challenger_value')}" + (
            " (the first version: no champion to compare with)" if champion == "none"
            else " (the champion itself: no other version compared)")
    else:
        compared = (f"{metric} challenger v{challenger} {num('challenger_value')} vs champion v{champion} "
                    f"{num('champion_value')}")
        if tags.get(f"{prefix}_difference") not in (None, "none"):
            compared += (f", difference {num('difference')} ({tags.get(f'{prefix}_confidence', '95%')} interval "
                         f"{num('difference_low')} to {num('difference_high')}, {tags.get(f'{prefix}_test', 'paired bootstrap')})")
    return (f"{compared} on {tags.get(f'{prefix}_rows', '?')} rows (data fingerprint "
            f"`{tags.get(f'{prefix}_data_fingerprint', 'not recorded')}`)")


def image_uri(path: Path | None) -> str:
    if path is None:
        return ""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def read_csv_or_none(path: Path | None) -> pd.DataFrame | None:
    return pd.read_csv(path) if path is not None else None
