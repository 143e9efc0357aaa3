"""Connected groups in the monthly job: read the bank's `relations` table, find the month's groups,
and write the month's supply-chain leads for the marketing team.

The wiring around `tierwise.features.groups_of_month` (pure) and `tierwise.models.apply_contagion`
(the policy post-step): a bank without `relations.parquet|csv` has no groups, and scoring runs
exactly as without this module. Only the relations rows the month can use are read and checked
(`read_relations(..., month=)`: links dated up to the month, the month's flows, rows of an
unknown kind or an unreadable month); those that break the contract are quarantined into the
scoring job's rejects file (table `relations`) with their reason. Rows of other months are not
the month's business and are not in its rejects.

Leads (`tierwise.models.supply_chain_leads`, pure) are built from a scored month and the month's
flows and written as `<outputs>/leads/YYYY-MM/leads.parquet` and `leads.csv`, each atomically;
without relations there is no leads file (one log line says so).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from tierwise.features import (
    CLIENT_KEY,
    MONTH_KEY,
    ROW_ID,
    groups_of_month,
    month_label,
    read_relations,
    write_arrow_atomic,
    write_text_atomic,
)
from tierwise.models import GroupsConfig, supply_chain_leads

logger = logging.getLogger(__name__)


def month_groups(data_dir: Path, month: dt.date, client_ids: pd.Series,
                 cfg: GroupsConfig) -> tuple[pd.Series | None, pd.DataFrame | None]:
    """(group id by client, the relations rows rejected) for `month`; (None, None) without relations."""
    report = read_relations(data_dir, client_ids=client_ids, month=month)
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
    multi = int((np.bincount(pd.factorize(groups)[0]) > 1).sum())  # value_counts of text is slower
    logger.info("relations: %d group(s) of two or more clients in %s", multi, f"{month:%Y-%m}")
    return groups, rejects


LEADS_FILE = "leads"


def leads_dir(outputs: Path, month: dt.date) -> Path:
    """`<outputs>/leads/YYYY-MM/`: the month's leads file, Parquet and CSV."""
    return Path(outputs) / "leads" / month_label(month)


def month_leads(data_dir: Path, month: dt.date, recs: pd.DataFrame, client_ids: pd.Series, *,
                min_growth: float) -> pd.DataFrame | None:
    """The supply-chain leads of the scored month `recs` (`models.supply_chain_leads`); None (and a
    log line) when the bank has no relations table."""
    report = read_relations(data_dir, client_ids=client_ids, month=month)
    if report is None:
        logger.info("no relations table in %s: no supply-chain leads for %s", data_dir, month_label(month))
        return None
    current = recs[pd.to_datetime(recs[MONTH_KEY]) == pd.Timestamp(month)] if MONTH_KEY in recs.columns else recs
    leads = supply_chain_leads(current, report.kept, pd.Timestamp(month), client_ids=client_ids,
                               min_growth=min_growth)
    kinds = leads["lead_kind"].value_counts()
    logger.info("supply-chain leads %s: %d for %d core client(s) of %d RM(s) (%d non-client, %d client)",
                month_label(month), len(leads), leads[CLIENT_KEY].nunique(), leads["rm_id"].nunique(),
                int(kinds.get("non_client", 0)), int(kinds.get("client_growth", 0)))
    return leads


def write_leads(leads: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """`leads.parquet` and `leads.csv` in `folder`, each written whole or not at all."""
    folder = Path(folder)
    parquet = write_arrow_atomic(leads, folder / f"{LEADS_FILE}.parquet")
    csv = write_text_atomic(folder / f"{LEADS_FILE}.csv", leads.to_csv(index=False, date_format="%Y-%m-%d"))
    return parquet, csv
