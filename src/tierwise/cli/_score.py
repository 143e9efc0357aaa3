"""`tierwise score`, `tierwise recommend` and `tierwise serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierwise.cli import app
from tierwise.cli._common import (
    ConfigDirOption,
    existing_dir,
    load_settings,
    parse_month,
    progress_bar,
)

DEFAULT_MODEL = "models:/tierwise-recommender@champion"
DEFAULT_BANK = Path("outputs/bank")
DEFAULT_ARCHIVE = Path("outputs/archive")


@app.command("score")
def score(
    data: Annotated[Path, typer.Option("--data", help="Folder with clients and monthly tables.")] = DEFAULT_BANK,
    month: str = typer.Option(..., "--month", help="Snapshot month to score, YYYY-MM."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="The recommender model URI."),
    archive: Annotated[Path, typer.Option("--archive", help="Client archive: the month replaces its partition; "
                                          "tier memory is read from the months before.")] = DEFAULT_ARCHIVE,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the month to this single Parquet file.")] = None,
    no_archive: Annotated[bool, typer.Option("--no-archive", help="Write only --out: no archive, no tier memory.")] = False,
    engine: str = typer.Option("pandas", "--engine", help="pandas (one machine, in chunks) or spark."),
    master: str = typer.Option("local[2]", "--master", help="Spark master (--engine spark)."),
    chunk_clients: int = typer.Option(50_000, "--chunk-clients", min=1, help="Clients per chunk (pandas)."),
    partitions: int = typer.Option(8, "--partitions", min=1, help="Client-hash buckets (spark)."),
    config_path: Path | None = ConfigDirOption,
) -> None:
    """Score every client of a month: features, the task models, reasons, tiers -> Parquet.
    With a relations table, connected groups use monitor.yaml `groups:` (as run-month does)."""
    from tierwise.features import TierwiseError
    from tierwise.models import TIERS
    from tierwise.registry import load_recommender

    existing_dir(data, option="--data")
    when = parse_month(month)
    if engine not in ("pandas", "spark"):
        raise typer.BadParameter(f"'{engine}' is not an engine; one of pandas, spark", param_hint="--engine")
    if out is not None and out.suffix != ".parquet":
        raise typer.BadParameter(f"{out} must end in .parquet", param_hint="--out")
    if out is not None and out.is_dir():
        raise TierwiseError(f"--out: {out} is a folder")
    if no_archive and out is None:
        raise typer.BadParameter("--no-archive needs --out (somewhere to write the month)", param_hint="--no-archive")
    if not no_archive and archive.exists() and not archive.is_dir():
        raise TierwiseError(f"--archive: {archive} is a file, not an archive folder")
    archive_dir = None if no_archive else archive
    monitor_cfg = load_settings(config_path).monitor  # groups: as run-month reads them; no monitor.yaml: defaults
    groups = monitor_cfg.groups if monitor_cfg is not None else None
    if engine == "pandas":
        from tierwise.scoring import score_pandas

        loaded = load_recommender(model)
        total: list[int] = []
        with progress_bar("scoring chunks", total=None) as advance:
            result = score_pandas(data, when, out, recommender=loaded.recommender, archive=archive_dir,
                                  feature_config=loaded.settings.features,
                                  model_uri=model, model_version=loaded.version, chunk_clients=chunk_clients,
                                  on_start=total.append, progress=advance, groups=groups)
    else:
        from tierwise.scoring import score_spark

        result = score_spark(data, when, out, archive=archive_dir, model_uri=model, master=master,
                             partitions=partitions, groups=groups)
    tiers = ", ".join(f"{t} {result.tiers.get(t, 0):,}" for t in TIERS)
    rejected = sum(result.rejected.values())
    where = " and ".join(str(p) for p in (result.archived, result.out) if p is not None)
    typer.echo(f"scored {result.clients:,} clients for {when:%Y-%m} in {result.seconds:.1f} s -> {where} "
               f"({tiers}); {rejected:,} rows quarantined"
               + (f"; resumed {result.resumed_chunks} of {result.chunks} chunks" if result.resumed_chunks else ""))


@app.command("recommend")
def recommend(
    data: Annotated[Path, typer.Option("--data", help="Bank folder (reference population).")] = DEFAULT_BANK,
    month: str = typer.Option(None, "--month", help="Reference month for quantile thresholds (default: latest)."),
    alias: str = typer.Option("champion", "--alias", help="Alias of the task models to bundle."),
    config_dir_opt: Path = ConfigDirOption,
) -> None:
    """Build the recommender from the task champions that exist (any of churn, default, growth) and the policy; register it as champion."""
    from tierwise.recommender import build_and_register

    existing_dir(data, option="--data")
    when = parse_month(month) if month else None
    info = build_and_register(data, load_settings(config_dir_opt).for_recommender(), month=when, alias=alias)
    cuts = ", ".join(f"{k} >= {v:,.0f}" for k, v in info.cuts.items())
    versions = ", ".join(f"{k} v{v}" for k, v in info.source_versions.items())
    typer.echo(f"registered {info.name} version {info.version} (champion) from {versions}; EV cuts: {cuts}")
    for note in info.assumptions:
        typer.echo(f"  assumed: {note}")


@app.command("serve")
def serve(
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="Model URI to serve."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (loopback by default)."),
    port: int = typer.Option(5000, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int | None = typer.Option(None, "--workers", min=1,
                                       help="Server worker processes (default: one per available core)."),
    mlflow: bool = typer.Option(False, "--mlflow", help="Run MLflow's own scoring server instead of the lean one."),
    max_body_bytes: int = typer.Option(1_048_576, "--max-body-bytes", min=1024,
                                       help="Largest request body (lean server; larger: 413)."),
    max_batch: int = typer.Option(100, "--max-batch", min=1, help="Most clients per request (lean server; more: 413)."),
    archive: Annotated[Path, typer.Option("--archive", help="Client archive whose latest snapshot features "
                                          "GET /clients/{id} answers from (lean server).")] = DEFAULT_ARCHIVE,
    config_path: Path | None = ConfigDirOption,
) -> None:
    """Serve the recommender over HTTP (lean Starlette/uvicorn server; --mlflow: mlflow models serve): JSON in, JSON out.
    `?next_tier=1` adds what would move each client up a tier (configs/next_tier.yaml; lean server)."""
    from tierwise.serving import serve as run

    next_tier = None if mlflow else load_settings(config_path).next_tier
    raise typer.Exit(run(model, host=host, port=port, workers=workers, mlflow=mlflow,
                         max_body_bytes=max_body_bytes, max_batch=max_batch, archive=archive, next_tier=next_tier))
