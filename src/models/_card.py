"""The Markdown model card logged with every training run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from jinja2 import Environment

_TEMPLATE = """\
# Model card: {{ title }}

## Intended use
{{ intended_use }}

## Model
- task: `{{ task }}` ({{ kind }}), target `{{ target }}`
- chosen candidate: **{{ candidate }}** (best {{ primary_metric }} on held-out validation data)
- candidates compared (validation {{ primary_metric }}):
{% for name, value in valid_scores.items() %}  - {{ name }}: {{ "%.4f"|format(value) }}
{% endfor %}- {{ n_features }} input features; calibration: {{ calibration }}
- tuning: {{ tuning_trials }} Optuna trial(s) on validation data only

## Data window
{% for split, text in data_window.items() %}- {{ split }}: {{ text }}
{% endfor %}- data fingerprint (SHA-256): `{{ fingerprint }}`

## Metrics ({{ metrics_scope }})
| metric | value |
|---|---|
{% for name, value in metrics.items() %}| {{ name }} | {{ "%.4f"|format(value) }} |
{% endfor %}
{% if grades is not none %}
## Calibration by grade
{{ grades }}
{% endif %}
## Limitations
{% for item in limitations %}- {{ item }}
{% endfor %}"""


def _markdown_table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_card(*, title: str, task: str, kind: str, target: str, candidate: str, primary_metric: str,
               valid_scores: Mapping[str, float], n_features: int, calibration: str,
               tuning_trials: int, data_window: Mapping[str, str], fingerprint: str,
               metrics: Mapping[str, float], metrics_scope: str, intended_use: str,
               limitations: Sequence[str], grades: pd.DataFrame | None = None) -> str:
    """Render the card: intended use, data window, metrics, calibration by grade, limitations."""
    env = Environment(autoescape=False, trim_blocks=False, keep_trailing_newline=True)
    shown = {k: float(v) for k, v in sorted(metrics.items()) if v == v}  # NaN-free
    return env.from_string(_TEMPLATE).render(
        title=title, task=task, kind=kind, target=target, candidate=candidate,
        primary_metric=primary_metric, valid_scores=dict(valid_scores), n_features=n_features,
        calibration=calibration, tuning_trials=tuning_trials, data_window=dict(data_window),
        fingerprint=fingerprint, metrics=shown, metrics_scope=metrics_scope,
        intended_use=intended_use or "Not stated.",
        limitations=list(limitations) or ["Not stated."],
        grades=_markdown_table(grades) if grades is not None else None,
    )
