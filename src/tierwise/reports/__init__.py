"""Reports people read: the relationship-manager page, the portfolio monitor, fairness checks."""

from tierwise.reports._config import (
    ConcentrationConfig,
    FairnessConfig,
    HistoryConfig,
    MonitorConfig,
    PsiConfig,
    ReportConfig,
    ScoreBands,
)
from tierwise.reports._fairness import age_groups, compare_groups, fairness_report
from tierwise.reports._history import expected_auc, resolve_months
from tierwise.reports._io import (
    CORE_COLUMNS,
    check_recommendations,
    read_archive_months,
    read_bank,
    read_raw_table,
    read_recommendations,
)
from tierwise.reports._monitor import (
    concentration,
    concentration_alerts,
    fund_flows,
    hhi,
    matured_labels,
    migration_matrix,
    pd_distribution,
    psi,
    psi_by_group,
    psi_status,
    psi_table,
    realised_vs_predicted,
    tier_counts,
    top_n_share,
)
from tierwise.reports._monitor_build import build_monitor, monitor_metrics
from tierwise.reports._monitor_page import log_monitor_run, render_monitor_html, write_monitor
from tierwise.reports._rm_pages import archive_window, rm_index, write_rm_pages
from tierwise.reports._rm_report import (
    HISTORY_COLUMNS,
    render_rm_report,
    score_percent,
    template_env,
)
from tierwise.reports._trail import client_trail, trail_headers, trail_title

__all__ = [
    "CORE_COLUMNS",
    "ConcentrationConfig",
    "FairnessConfig",
    "HistoryConfig",
    "HISTORY_COLUMNS",
    "MonitorConfig",
    "PsiConfig",
    "ReportConfig",
    "ScoreBands",
    "age_groups",
    "archive_window",
    "build_monitor",
    "check_recommendations",
    "client_trail",
    "compare_groups",
    "concentration",
    "concentration_alerts",
    "expected_auc",
    "fairness_report",
    "fund_flows",
    "hhi",
    "log_monitor_run",
    "matured_labels",
    "migration_matrix",
    "monitor_metrics",
    "pd_distribution",
    "psi",
    "psi_by_group",
    "psi_status",
    "psi_table",
    "read_archive_months",
    "read_bank",
    "read_raw_table",
    "read_recommendations",
    "realised_vs_predicted",
    "render_monitor_html",
    "render_rm_report",
    "resolve_months",
    "rm_index",
    "score_percent",
    "template_env",
    "tier_counts",
    "top_n_share",
    "trail_headers",
    "trail_title",
    "write_monitor",
    "write_rm_pages",
]
