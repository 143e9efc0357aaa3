"""The portfolio monitor's outputs: `monitor.json`, a self-contained `monitor.html`, an MLflow run."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import mlflow

from tierwise.features import write_text_atomic
from tierwise.models import DEFAULT_CURRENCY, format_money
from tierwise.reports._catalogue import CODE_CATALOGUES, code_name
from tierwise.reports._charts import bar_chart
from tierwise.reports._monitor_build import monitor_metrics
from tierwise.reports._rm_report import template_env
from tierwise.tracking import connect, experiment_id

logger = logging.getLogger(__name__)


def _pct(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}%}"


def _num(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _code(value: Any, kind: str, bank: dict[str, dict[str, str]]) -> str:
    """A segment, industry or region code by its name (the bank's `code_names`, else the
    catalogue's), as on the RM pages; other groupings as they are."""
    return code_name(kind, str(value), "en", bank) if kind in CODE_CATALOGUES else str(value)


def render_monitor_html(result: dict[str, Any]) -> str:
    """The monitor result as one HTML page (inline CSS and SVG, no scripts from elsewhere).
    Amounts are written as everywhere else (`models.format_money`, in the bank's currency)."""
    env = template_env().overlay()
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    currency, bank = result.get("currency", DEFAULT_CURRENCY), result.get("code_names", {})
    env.filters["money"] = lambda v: "n/a" if _num(v) == "n/a" else format_money(float(v), "en", currency)
    env.filters["code"] = lambda v, kind: _code(v, kind, bank)
    tiers = result["tiers"]["month"]
    charts = {
        "tiers": bar_chart([r["tier"] for r in tiers], [r["share"] for r in tiers],
                           title=f"Share of clients by tier, {result['month']}"),
    }
    for key in ("top_tiers", "exit_review"):
        dist = result["pd_distribution"][key]
        edges = dist["histogram"]["edges"]
        labels = [f"{lo:.1%}–{hi:.1%}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
        total = sum(dist["histogram"]["counts"]) or 1
        charts[f"pd_{key}"] = bar_chart(labels, [c / total for c in dist["histogram"]["counts"]],
                                        title=f"PD distribution: {key.replace('_', ' ')}", color="#b03a2e")
    return env.get_template("monitor.html.j2").render(r=result, charts=charts)


def write_monitor(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """`monitor.json` and `monitor.html` in `out_dir`, each written atomically."""
    json_path = write_text_atomic(out_dir / "monitor.json",
                                  json.dumps(result, indent=2, ensure_ascii=False, allow_nan=False))
    html_path = write_text_atomic(out_dir / "monitor.html", render_monitor_html(result))
    return json_path, html_path


def log_monitor_run(result: dict[str, Any], files: tuple[Path, ...], experiment: str) -> str:
    """One MLflow run with the figures as metrics and the files as artifacts; returns its id."""
    client = connect()
    with mlflow.start_run(experiment_id=experiment_id(client, experiment),
                          run_name=f"monitor {result['month']} vs {result['baseline']}") as run:
        mlflow.set_tags({"tierwise.month": result["month"], "tierwise.baseline": result["baseline"]})
        mlflow.log_params({"month": result["month"], "baseline": result["baseline"]})
        metrics = monitor_metrics(result)
        names = sorted(metrics)
        for start in range(0, len(names), 500):
            mlflow.log_metrics({k: metrics[k] for k in names[start:start + 500]})
        for path in files:
            mlflow.log_artifact(str(path))
    logger.info("logged monitor run %s to experiment %s", run.info.run_id, experiment)
    return run.info.run_id
