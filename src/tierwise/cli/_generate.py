"""`tierwise generate`: write the synthetic bank's raw tables and its oracle."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from features import TierwiseError
from tierwise.cli import app
from tierwise.cli._common import ConfigDirOption, config_dir, parse_month, progress_bar
from tierwise.config import load_config
from tierwise.synthetic import DataConfig, bank_fingerprint, generate_bank, write_bank

logger = logging.getLogger(__name__)


def load_data_config(folder: Path | None) -> DataConfig:
    """`data.yaml` from the config folder; the built-in defaults when the folder has none."""
    path = config_dir(folder) / "data.yaml"
    if not path.is_file():
        logger.info("%s not found: using the built-in synthetic-bank defaults", path)
        return DataConfig()
    return load_config(path, DataConfig)


def check_positive(value: int | None, option: str) -> None:
    if value is not None and value < 1:
        raise TierwiseError(f"{option} must be a positive whole number, got {value}")


def start_month(value: str | None, cfg: DataConfig):
    if value is None:
        return cfg.bank.start_date()
    try:
        return parse_month(value, option="--start")
    except typer.BadParameter as exc:
        raise TierwiseError(f"--start: {exc.message}") from None


@app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write clients/monthly/oracle Parquet files to.")],
    clients: int | None = typer.Option(None, "--clients", help="Number of clients (default: data.yaml bank.clients)."),
    months: int | None = typer.Option(None, "--months", help="Number of months (default: data.yaml bank.months)."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed; the same seed gives identical files."),
    start: str | None = typer.Option(None, "--start", help="First month, YYYY-MM (default: data.yaml bank.start)."),
    dirty: bool = typer.Option(False, "--dirty", help="Inject bad rows and list them in _injected.parquet."),
    config: Path | None = ConfigDirOption,
) -> None:
    """Generate the synthetic bank: clients.parquet, monthly.parquet and oracle.parquet."""
    check_positive(clients, "--clients")
    check_positive(months, "--months")
    if seed is not None and seed < 0:
        raise TierwiseError(f"--seed must be zero or positive, got {seed}")
    if out.exists() and not out.is_dir():
        raise TierwiseError(f"--out: {out} exists and is not a folder")
    cfg = load_data_config(config)
    n = cfg.bank.clients if clients is None else clients
    m = cfg.bank.months if months is None else months
    s = cfg.bank.seed if seed is None else seed
    first = start_month(start, cfg)
    began = time.perf_counter()
    with progress_bar("simulating months", total=m) as advance:
        bank = generate_bank(cfg, clients=n, months=m, seed=s, start=first, progress=advance)
    fingerprint = bank_fingerprint(cfg, clients=n, months=m, seed=s, start=first.isoformat(), dirty=dirty)
    write_bank(bank, out, dirty=cfg if dirty else None, seed=s, fingerprint=fingerprint)
    typer.echo(
        f"wrote {n:,} clients, {len(bank.monthly):,} monthly rows, {len(bank.oracle):,} oracle pairs"
        f"{' (with injected defects, see _injected.parquet)' if dirty else ''} to {out} "
        f"in {time.perf_counter() - began:.1f} s"
    )
