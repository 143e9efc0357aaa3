"""The monthly job, as a list of steps: what a bank runs once a month on its warehouse extract.

For each month, in order:

1. **validate and score** every client alive at the month (the scoring engine validates each
   chunk and quarantines bad rows with their reasons, `<archive>-rejects/YYYY-MM.parquet`),
   with the tier memory of the archive's previous months;
2. **archive** the month (its partition replaced atomically; other months untouched), and
   keep its snapshot features beside the archive (`<archive>-snapshot/month=YYYY-MM-01/
   features.parquet`), from which `tierwise serve` answers `GET /clients/{id}`;
3. **supply-chain leads** (a bank with a `relations` table): each core client's non-client
   counterparties and client counterparties with growth potential, for the marketing team
   (`<outputs>/leads/YYYY-MM/leads.parquet` and `leads.csv`);
   **next tier** (with `next_tier.yaml`): at most
   `searched_per_rm` of each RM's clients searched for verified changes that lead to the next
   tier, from the archived tier (tier memory); timed and logged;
   **RM pages**: one page per relationship manager (with its core clients' leads and the
   clients within reach of the next tier) and the index
   of every RM's book, read from the archive (`<outputs>/rm_pages/YYYY-MM/`);
4. **monitor** the month against the previous archived month (`<outputs>/monitor/YYYY-MM/`),
   logged to MLflow.

Every step reads what the step before wrote, so rerunning a month gives the same partition
and the same pages; a backfill runs the months oldest first, each remembering the last.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tierwise import archive as client_archive
from tierwise.features import add_months, month_label
from tierwise.models import TIERS

logger = logging.getLogger(__name__)

StepProgress = Callable[[str, int | None], AbstractContextManager[Callable[[int], None]]]
"""(step description, total) -> a context manager yielding `advance(n)` (the CLI's progress bar)."""


@dataclass(frozen=True)
class MonthlyJob:
    """What every month of a run shares: the inputs, where outputs go, the recommender."""

    data: Path
    archive: Path
    outputs: Path
    model_uri: str
    loaded: Any  # registry.LoadedRecommender
    monitor_config: Any  # reports.MonitorConfig
    engine: str = "pandas"
    chunk_clients: int = 50_000
    lang: str = "en"
    next_tier: Any = None  # models.NextTierConfig (next_tier.yaml): the RM pages' "within reach of the next tier"; None: no section
    _raw: dict[str, pd.DataFrame | None] = field(default_factory=dict, compare=False, repr=False)

    def raw(self, name: str) -> pd.DataFrame | None:
        """The `clients` or `monthly` rows that pass the data contract, read once per run (balance
        trends, new defaults, realised labels, raw features)."""
        from tierwise.reports import read_bank

        if "monthly" not in self._raw:
            self._raw["clients"], self._raw["monthly"] = read_bank(self.data)
        return self._raw[name]

    def events(self) -> pd.DataFrame | None:
        """The bank's recorded events (`events.parquet|csv`), read once per run; None without."""
        from tierwise.features import read_events

        if "events" not in self._raw:
            self._raw["events"] = read_events(self.data)
        return self._raw["events"]

    def leads_dir(self, month: dt.date) -> Path:
        from tierwise.groups import leads_dir

        return leads_dir(self.outputs, month)

    def pages_dir(self, month: dt.date) -> Path:
        return self.outputs / "rm_pages" / month_label(month)

    def monitor_dir(self, month: dt.date) -> Path:
        return self.outputs / "monitor" / month_label(month)


@dataclass(frozen=True)
class MonthSummary:
    """One line of the run: what the month's steps did."""

    month: dt.date
    clients: int
    tiers: dict[str, int]
    reviews: dict[str, int]
    rejected: int
    rm_pages: int
    alerts: int | None
    seconds: float
    leads: int | None = None
    next_tier: int | None = None  # clients within reach of the next tier on the RM pages (None: no section)

    def line(self) -> str:
        tiers = ", ".join(f"{t} {self.tiers.get(t, 0):,}" for t in TIERS)
        reviews = ", ".join(f"{self.reviews.get(k, 0):,} {k}" for k in ("opened", "closed", "downgraded"))
        monitor = "no monitor (first archived month)" if self.alerts is None else f"monitor: {self.alerts} alert(s)"
        leads = "" if self.leads is None else f"{self.leads:,} supply-chain leads; "
        within = "" if self.next_tier is None else f"{self.next_tier:,} within reach of the next tier; "
        return (f"{month_label(self.month)}: {self.clients:,} clients ({tiers}); exit reviews {reviews}; "
                f"{self.rejected:,} rows quarantined; {leads}{within}{self.rm_pages:,} RM pages; {monitor}; "
                f"{self.seconds:.1f} s")


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """`first` to `last` inclusive, oldest first."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def run_months(job: MonthlyJob, months: list[dt.date], *, progress: StepProgress) -> Iterator[MonthSummary]:
    """Each month in order (see the module docstring), one summary per month as it finishes."""
    for month in months:
        with client_archive.month_lock(job.archive, month):  # the whole month: score, pages, monitor
            summary = run_month(job, month, progress=progress)
        yield summary


def run_month(job: MonthlyJob, month: dt.date, *, progress: StepProgress) -> MonthSummary:
    began = time.perf_counter()
    result = score_step(job, month, progress=progress)
    features = month_features(job, month)
    snapshot_step(job, month, features)
    history = history_of(job.archive, month, job.monitor_config.history.months)
    current = history[history["month"] == pd.Timestamp(month)]
    reviews = current["exit_review_status"].value_counts().to_dict()
    leads = leads_step(job, month, current)
    next_tier = next_tier_step(job, month, current, features)
    pages = pages_step(job, month, history, progress=progress, leads=leads, next_tier=next_tier)
    alerts = monitor_step(job, month, history, progress=progress)
    return MonthSummary(month=month, clients=result.clients, tiers=result.tiers,
                        reviews={str(k): int(v) for k, v in reviews.items()},
                        rejected=sum(result.rejected.values()), rm_pages=pages, alerts=alerts,
                        leads=None if leads is None else len(leads),
                        next_tier=None if next_tier is None else next_tier.shown, seconds=time.perf_counter() - began)


def score_step(job: MonthlyJob, month: dt.date, *, progress: StepProgress) -> Any:
    """Steps 1 and 2: validate, score with the archive's memory, archive the month."""
    loaded = job.loaded
    if job.engine == "spark":
        from tierwise.scoring import score_spark

        with progress(f"{month_label(month)} score (spark)", None):
            return score_spark(job.data, month, archive=job.archive, model_uri=job.model_uri)
    from tierwise.scoring import score_pandas

    with progress(f"{month_label(month)} validate and score", None) as advance:
        return score_pandas(job.data, month, archive=job.archive, recommender=loaded.recommender,
                            feature_config=loaded.settings.features, model_uri=job.model_uri,
                            model_version=loaded.version, chunk_clients=job.chunk_clients, progress=advance,
                            groups=job.monitor_config.groups)


def month_features(job: MonthlyJob, month: dt.date) -> pd.DataFrame:
    """The month's snapshot features (every feature, not only the recommender's inputs) with the
    tier memory (`tier_prev`, `p_default_prev`) scoring the month read."""
    from tierwise.features import snapshot_features
    from tierwise.scoring import with_memory

    recommender = job.loaded.recommender
    features = snapshot_features(job.raw("clients"), job.raw("monthly"), month, job.loaded.settings.features)
    prior = client_archive.prior_state(job.archive, month, trend_months=recommender.policy.policy.risk.trend_months)
    return with_memory(features, prior)


def snapshot_step(job: MonthlyJob, month: dt.date, features: pd.DataFrame | None = None) -> Path:
    """Step 2b: the month's snapshot features (`month_features`, computed when not given) beside
    the archive, for `GET /clients/{id}`, with the same tier memory scoring the month read, so
    that a served answer starts from the tier the archive remembers."""
    from tierwise.recommender import request_frame

    features = month_features(job, month) if features is None else features
    return client_archive.write_snapshot(job.archive, month, request_frame(features, job.loaded.recommender))


def history_of(archive: Path, month: dt.date, months: int) -> pd.DataFrame:
    """What the month's pages and monitor read of the archive: `month` and the archived month
    before it in full, the other archived months of the `months` ending at `month` only in the
    columns the pages and the monitor's history follow."""
    from tierwise.reports import MONITOR_HISTORY_COLUMNS, PAGE_HISTORY_COLUMNS, read_archive_months

    archived = client_archive.archived_months(archive)
    window = set(months_between(add_months(month, -(months - 1)), month))
    earlier = [m for m in archived if m < month]
    columns = tuple(dict.fromkeys((*PAGE_HISTORY_COLUMNS, *MONITOR_HISTORY_COLUMNS)))
    return read_archive_months(archive, [month, *earlier[-1:]], [m for m in archived if m in window],
                               columns=columns)


def leads_step(job: MonthlyJob, month: dt.date, current: pd.DataFrame) -> pd.DataFrame | None:
    """Step 3a: the month's supply-chain leads file (None, no file: the bank has no relations).
    Growth potential is the RM pages' "high growth" band or the policy's growth lead."""
    from tierwise.groups import month_leads, write_leads

    clients = job.raw("clients")
    ids = clients["client_id"] if clients is not None else current["client_id"]
    leads = month_leads(job.data, month, current, ids, min_growth=job.monitor_config.report.growth_bands.high)
    if leads is not None:
        write_leads(leads, job.leads_dir(month))
    return leads


def next_tier_step(job: MonthlyJob, month: dt.date, current: pd.DataFrame, features: pd.DataFrame) -> Any:
    """Step 3b: the RM pages' clients within reach of the next tier (`reports.rm_next_tier`): at
    most `next_tier.searched_per_rm` clients per RM searched, from the month's archived rows
    (`current`: tier, review and tier memory) and snapshot `features`; timed and logged. None
    (no section, one log line saying why): no next-tier config or no next-tier texts in the
    pages' language."""
    from tierwise.reports import next_tier_unavailable, rm_next_tier

    recommender = job.loaded.recommender
    catalogue = job.loaded.settings.reasons.get(job.lang)
    why = next_tier_unavailable(recommender, job.next_tier, catalogue)
    if why is not None:
        logger.info("%s: no next-tier section on the RM pages: %s", month_label(month), why)
        return None
    began, cpu = time.perf_counter(), time.process_time()
    found = rm_next_tier(current, features, recommender=recommender, config=job.next_tier,
                         features=job.loaded.settings.features, catalogue=catalogue)
    logger.info("%s next tier: %d client(s) within reach on %d RM page(s); %d searched (at most %d per RM) "
                "in %.2f s (%.2f s CPU)", month_label(month), found.shown, len(found.rms), found.searched,
                job.next_tier.searched_per_rm, time.perf_counter() - began, time.process_time() - cpu)
    return found


def pages_step(job: MonthlyJob, month: dt.date, history: pd.DataFrame, *, progress: StepProgress,
               leads: pd.DataFrame | None = None, next_tier: Any = None) -> int:
    """Step 3c: every RM's page (with the first `groups.leads_shown` leads of each core client,
    and the clients within reach of the next tier) and the index, from the archive."""
    from tierwise.reports import write_rm_pages

    shown = None if leads is None else leads[leads["rank"] <= job.monitor_config.groups.leads_shown]
    with progress(f"{month_label(month)} RM pages", None):
        written = write_rm_pages(history, job.raw("monthly"), pd.Timestamp(month), job.pages_dir(month),
                                 job.monitor_config.report, job.lang, leads=shown, next_tier=next_tier)
    return max(len(written) - 1, 0)  # the index is not an RM page


def monitor_step(job: MonthlyJob, month: dt.date, history: pd.DataFrame, *, progress: StepProgress) -> int | None:
    """Step 4: the monitor against the previous archived month (none for the first month)."""
    from tierwise.reports import (
        build_monitor,
        log_monitor_run,
        read_archive_months,
        take_up_month,
        write_monitor,
    )

    earlier = [m for m in client_archive.archived_months(job.archive) if m < month]
    if not earlier:
        logger.info("%s is the first archived month: no monitor baseline yet", month_label(month))
        return None
    baseline = earlier[-1]  # read in full by `history_of`
    settings = job.loaded.settings
    cfg = job.monitor_config.with_policy(settings.policy, job.loaded.recommender.policy.risk_limit)
    then = take_up_month(month, settings.features).date()  # the offers whose take-up is measured
    offered = read_archive_months(job.archive, [then], []) if then in earlier else None
    with progress(f"{month_label(month)} monitor", None):
        result = build_monitor(history, pd.Timestamp(month), pd.Timestamp(baseline), cfg, clients=job.raw("clients"),
                               monthly=job.raw("monthly"), features=settings.features, events=job.events(),
                               offered=offered)
        files = write_monitor(result, job.monitor_dir(month))
        log_monitor_run(result, files, cfg.experiment)
    return len(result["alerts"])

