"""The governance pack: a model card per registered model version, for model-risk review.

Three moments feed it:
- **training** records the scored rows and data window of a run (`write_training_record`);
- **promotion** tags the reviewed model version with who, when and the figures (`record_review`);
- **the pack** (`write_pack`, `tierwise governance`) builds the card from the registry and the
  version's run, checks fairness and stability, and renders `card.md` and `card.html`.

Modules by job: `_records` (training and review records), `_checks` (calibration, fairness,
PSI), `_cards` (the card's parts and section builders), `_render` (Markdown and HTML),
`_pack` (reading a version and writing its pack).
"""

from tierwise.governance._cards import (
    Card,
    Section,
    Table,
    approval_section,
    data_window_from_card,
    fmt,
    grade_rows,
    open_alerts,
    pct,
    recommender_approval,
    summary_section,
)
from tierwise.governance._checks import (
    ALPHA,
    decile_calibration,
    fairness_decision,
    fairness_settings,
    model_fairness,
    paired_bootstrap,
    score_stability,
)
from tierwise.governance._pack import (
    ALERTS_TAG,
    ARTIFACT_DIR,
    CARD_TAG,
    DEFAULT_OUT,
    RECOMMENDER,
    PackPaths,
    recommender_card,
    task_card,
    write_pack,
    write_packs,
)
from tierwise.governance._records import (
    APPROVER_ENV,
    PROTECTED,
    SCORED_ROWS,
    TRAINING_RECORD,
    Promotion,
    approver,
    promotion_message,
    record_review,
    review_decision,
    review_tags,
    scored_rows,
    utc_now,
    write_training_record,
)
from tierwise.governance._render import render_html, render_markdown

__all__ = [
    "ALPHA",
    "APPROVER_ENV",
    "ARTIFACT_DIR",
    "ALERTS_TAG",
    "CARD_TAG",
    "Card",
    "DEFAULT_OUT",
    "PROTECTED",
    "Promotion",
    "PackPaths",
    "RECOMMENDER",
    "SCORED_ROWS",
    "Section",
    "TRAINING_RECORD",
    "Table",
    "approval_section",
    "approver",
    "data_window_from_card",
    "decile_calibration",
    "fairness_decision",
    "fairness_settings",
    "fmt",
    "grade_rows",
    "model_fairness",
    "open_alerts",
    "paired_bootstrap",
    "pct",
    "promotion_message",
    "record_review",
    "recommender_approval",
    "recommender_card",
    "render_html",
    "render_markdown",
    "review_decision",
    "review_tags",
    "score_stability",
    "scored_rows",
    "summary_section",
    "task_card",
    "utc_now",
    "write_pack",
    "write_packs",
    "write_training_record",
]
