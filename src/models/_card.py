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
{{ grades_summary }}

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
        grades_summary=grades_summary(grades) if grades is not None else None,
    )


def grades_summary(grades: pd.DataFrame, *, alpha: float = 0.05) -> str:
    """One paragraph above the grade table: how many grades fail, what the test means, how many
    failures chance alone would give, and the overall PD level against the observed rate."""
    tested = grades[grades["n"] > 0]
    failing = tested.loc[~tested["passed"].astype(bool), "grade"].tolist()
    bonferroni = tested.loc[tested["jeffreys_p"] < alpha / max(len(tested), 1), "grade"].tolist()
    binomial = int((tested["binomial_p"] < alpha).sum()) if "binomial_p" in tested else 0
    n, d = int(tested["n"].sum()), int(tested["defaults"].sum())
    mean_pd = float((tested["mean_pd"] * tested["n"]).sum() / n) if n else float("nan")
    observed = d / n if n else float("nan")
    return (
        f"{len(failing)} of {len(tested)} grades fail the one-sided Jeffreys test at {alpha:g} "
        f"(PD too low){': ' + ', '.join(failing) if failing else ''}; with {len(tested)} tests about "
        f"{alpha * len(tested):.1f} would fail by chance alone, and {len(bonferroni)} fail at the "
        f"Bonferroni level {alpha / max(len(tested), 1):.3g}. The two-sided binomial test, which also "
        f"flags a PD that is too high, rejects in {binomial} grade(s). Overall: mean PD {mean_pd:.4f} against an "
        f"observed rate {observed:.4f} ({d} defaults in {n} clients)."
        + (" Most grades failing together is a shift of the whole PD scale between the calibration "
           "data and these data, not noise in one grade."
           if 2 * len(failing) > len(tested) else "")
    )
