"""Connected groups in the monthly job: read the bank's `relations` table, find the month's groups.

The wiring around `tierwise.features.groups_of_month` (pure) and `tierwise.models.apply_contagion`
(the policy post-step): a bank without `relations.parquet|csv` has no groups, and scoring runs
exactly as without this module. Rows of the relations table that break its contract are
quarantined into the scoring job's rejects file (table `relations`) with their reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pandas as pd

from tierwise.features import CLIENT_KEY, MONTH_KEY, ROW_ID, groups_of_month, read_relations
from tierwise.models import GroupsConfig

logger = logging.getLogger(__name__)


def month_groups(data_dir: Path, month: dt.date, client_ids: pd.Series,
                 cfg: GroupsConfig) -> tuple[pd.Series | None, pd.DataFrame | None]:
    """(group id by client, the relations rows rejected) for `month`; (None, None) without relations."""
    report = read_relations(data_dir, client_ids=client_ids)
    if report is None:
        return None, None
    rejected = report.rejected
    if len(rejected):
        logger.warning("relations: %d row(s) quarantined (first: %s)", len(rejected), rejected["reason"].iat[0])
    groups = groups_of_month(client_ids.dropna().astype("str"), report.kept, pd.Timestamp(month),
                             dependence_share=cfg.dependence_share)
    rejects = pd.DataFrame({"table": "relations", ROW_ID: rejected[ROW_ID].to_numpy(),
                            CLIENT_KEY: rejected[CLIENT_KEY].astype("str").to_numpy(),
                            MONTH_KEY: pd.to_datetime(rejected[MONTH_KEY], errors="coerce").to_numpy(),
                            "reason": rejected["reason"].to_numpy()})
    multi = int((groups.value_counts() > 1).sum())
    logger.info("relations: %d group(s) of two or more clients in %s", multi, f"{month:%Y-%m}")
    return groups, rejects
