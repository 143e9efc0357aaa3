"""`tierwise report rm` (the relationship-manager page) and `tierwise monitor`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tierwise.cli import app
from tierwise.cli._common import ConfigDirOption, existing_dir, load_settings, parse_month

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

report_app = typer.Typer(help="Write reports people read (HTML).", no_args_is_help=True)
app.add_typer(report_app, name="report")

RECS_DEFAULT = Path("outputs/recommendations.parquet")
DATA_DEFAULT = Path("outputs/bank")
ARCHIVE_DEFAULT = Path("outputs/archive")


def _data_dir(path: Path, *, explicit: bool) -> Path | None:
    """The raw-data folder; the default may be absent (trends and fairness are then skipped)."""
    if explicit:
        return existing_dir(path, option="--data")
    if path.is_dir():
        return path
    logger.warning("no data folder at %s: balance trends, raw-feature PSI and fairness are skipped", path)
    return None


ARCHIVE_DEFAULT = Path("outputs/archive")


def _rm_targets(rm_id: str | None, all_rms: bool, out: Path) -> None:
    """--rm-id writes one page (--out a file), --all every RM's page (--out a folder)."""
    if all_rms and rm_id is not None:
        raise typer.BadParameter("--all writes every RM's page; leave out --rm-id", param_hint="--rm-id")
    if not all_rms and rm_id is None:
        raise typer.BadParameter("give --rm-id RM for one page, or --all for every RM's page", param_hint="--rm-id")
    if all_rms and (out.is_file() or out.suffix.lower() in (".html", ".htm")):
        raise typer.BadParameter(f"with --all, --out is a folder (index.html and one page per RM), not {out}",
                                 param_hint="--out")
    if not all_rms and out.is_dir():
        raise typer.BadParameter(f"{out} is a folder; give the HTML file to write (or use --all)", param_hint="--out")


def _archive_history(archive: Path, when: pd.Timestamp, rm_id: str | None) -> pd.DataFrame:
    """`when` in full and, of the archived months of the year before it, only what the pages
    show (`reports.PAGE_HISTORY_COLUMNS`); with `rm_id`, the earlier months of that RM's clients only."""
    from tierwise.archive import archived_months, check_archive, read_archive
    from tierwise.reports import PAGE_HISTORY_COLUMNS, archive_window, read_archive_months

    check_archive(archive)
    months = archive_window(archived_months(archive), when.date(), source=f"the archive {archive}")
    clients = None
    if rm_id is not None:
        current = read_archive(archive, months=months[-1:], columns=["rm_id"])
        clients = current.loc[current["rm_id"] == rm_id, "client_id"]
    return read_archive_months(archive, months[-1:], months[:-1], columns=PAGE_HISTORY_COLUMNS, clients=clients)


@report_app.command("rm")
def report_rm(
    month: Annotated[str, typer.Option("--month", help="Scored (archived) month, YYYY-MM.")],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write; with --all, a folder.")],
    rm_id: Annotated[str | None, typer.Option("--rm-id", help="Relationship manager id, e.g. RM0007.")] = None,
    all_rms: Annotated[bool, typer.Option("--all", help="Every RM's page and index.html in --out.")] = False,
    lang: Annotated[str, typer.Option("--lang", help="Language of the page: en or zh.")] = "en",
    archive: Annotated[Path, typer.Option("--archive", help="Client archive (the month and up to 11 before it "
                                          "are read).")] = ARCHIVE_DEFAULT,
    recommendations: Annotated[Path | None, typer.Option(
        "--recommendations", help="Read this recommendations Parquet instead of the archive.")] = None,
    data: Annotated[Path, typer.Option("--data", help="Data folder with monthly.parquet (balance trends, "
                                       "new defaults).")] = DATA_DEFAULT,
    config_path: Path | None = ConfigDirOption,
) -> None:
    """Self-contained HTML pages of RMs' clients: tiers, scores, reasons, flags, actions, a year of history."""
    import pandas as pd

    from tierwise.features import output_lock, write_text_atomic
    from tierwise.reports import (
        read_bank,
        read_recommendations,
        render_rm_report,
        write_rm_pages,
    )

    if lang not in ("en", "zh"):
        raise typer.BadParameter(f"'{lang}' is not a language; use en or zh", param_hint="--lang")
    _rm_targets(rm_id, all_rms, out)
    when = pd.Timestamp(parse_month(month))
    cfg = load_settings(config_path).require("monitor")
    recs = read_recommendations(recommendations) if recommendations is not None else _archive_history(archive, when, rm_id)
    data_dir = _data_dir(data, explicit=data != DATA_DEFAULT)
    _, monthly = read_bank(data_dir)
    if all_rms:
        with output_lock(out):  # a folder of pages: one run at a time
            written = write_rm_pages(recs, monthly, when, out, cfg.report, lang)
        typer.echo(f"wrote {len(written) - 1} RM page(s) and {written[-1]}")
        return
    html = render_rm_report(recs, monthly, rm_id, when, lang, cfg.report)
    with output_lock(out):
        write_text_atomic(out, html)
    typer.echo(f"wrote {out}")


@app.command("monitor")
def monitor(
    out: Annotated[Path, typer.Option("--out", help="Folder for monitor.json and monitor.html.")],
    month: Annotated[str | None, typer.Option(
        "--month", help="Month to monitor, YYYY-MM (default: the latest archived month).")] = None,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="Month to compare with, YYYY-MM (default: the latest month before --month).")] = None,
    archive: Annotated[Path, typer.Option(
        "--archive", help="Client archive to read the months from (unless --recommendations is given).")] = ARCHIVE_DEFAULT,
    recommendations: Annotated[Path | None, typer.Option(
        "--recommendations", help="A recommendations Parquet holding the months, read instead of the archive.")] = None,
    data: Annotated[Path, typer.Option("--data", help="Data folder with clients/monthly Parquet.")] = DATA_DEFAULT,
    model_alias: Annotated[str, typer.Option(
        "--alias", help="Alias of the registered recommender whose policy sets the fairness thresholds.")] = "champion",
    config_path: Path | None = ConfigDirOption,
) -> None:
    """Portfolio monitor: tiers, migration, concentration, PD, fund flows, PSI, fairness, a year of history; logged to MLflow.

    The months come from the client archive (or a recommendations file holding them): --month,
    the baseline, and the months of the year up to --month (monitor.yaml `history.months`) for
    the history: migration month by month, top-tier fund movements, exit reviews, expected
    performance."""
    import pandas as pd

    from tierwise import registry, tracking
    from tierwise.archive import archived_months, check_archive
    from tierwise.features import output_lock, read_events
    from tierwise.reports import (
        build_monitor,
        log_monitor_run,
        read_archive_months,
        read_bank,
        read_recommendations,
        resolve_months,
        take_up_month,
        write_monitor,
    )

    when = parse_month(month) if month is not None else None
    base = parse_month(baseline, option="--baseline") if baseline is not None else None
    settings = load_settings(config_path)
    monitor_cfg = settings.require("monitor")
    if recommendations is not None:
        recs = read_recommendations(recommendations)
        present = [pd.Timestamp(m).date() for m in recs["month"].unique()]
        months = resolve_months(present, when, base, length=monitor_cfg.history.months, archived=False)
        recs = recs[recs["month"].isin([pd.Timestamp(m) for m in months.read])].reset_index(drop=True)
    else:
        check_archive(archive)
        months = resolve_months(archived_months(archive), when, base, length=monitor_cfg.history.months,
                                archived=True)
        recs = read_archive_months(archive, (months.month, months.baseline), months.read)
    built_with = registry.recommender_settings(tracking.connect(), alias=model_alias)
    # realised labels are built as the registered recommender's models were trained on them
    features = built_with.features if built_with is not None else settings.require("features")
    policy = built_with.policy if built_with is not None else None
    cfg = monitor_cfg.with_policy(policy, registry.recommender_risk_limit(tracking.connect(), alias=model_alias))
    data_dir = _data_dir(data, explicit=data != DATA_DEFAULT)
    clients, monthly = read_bank(data_dir)
    events = None if data_dir is None else read_events(data_dir)
    offered = None  # the archived offers whose take-up the monitor measures (a recommendations file: its own)
    if recommendations is None:
        then = take_up_month(months.month, features).date()
        offered = read_archive_months(archive, [then], []) if then in archived_months(archive) else None
    result = build_monitor(recs, pd.Timestamp(months.month), pd.Timestamp(months.baseline), cfg, clients=clients,
                           monthly=monthly, features=features, events=events, offered=offered)
    with output_lock(out):  # monitor.json and monitor.html together: one run at a time
        files = write_monitor(result, out)
        run_id = log_monitor_run(result, files, cfg.experiment)
    alerts = result["alerts"]
    typer.echo(f"wrote {files[0]} and {files[1]} ({result['month']} against {result['baseline']}); "
               f"MLflow run {run_id}; {len(alerts)} alert(s)")
    for alert in alerts:
        typer.echo(f"  {alert['level']}: {alert['message']}")
