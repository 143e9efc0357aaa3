"""`tierwise generate`: write the synthetic bank's raw tables and its oracle.

`--profile warehouse` writes a bank that looks like a real retail bank's warehouse extract
instead of the demo bank (data.yaml `warehouse:`; `tierwise.synthetic.WarehouseConfig`), and
`--events` adds its `events.parquet` (the defaults the bank records, no closures).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tierwise.cli import app
from tierwise.cli._common import ConfigDirOption, load_settings, parse_month, progress_bar

if TYPE_CHECKING:
    from tierwise.settings import Settings
    from tierwise.synthetic import DataConfig, SyntheticBank

logger = logging.getLogger(__name__)


def data_config(settings: Settings) -> DataConfig:
    """`data.yaml` of the settings; the built-in defaults when the folder has none."""
    from tierwise.synthetic import DataConfig

    if settings.data is None:
        logger.info("%s not found: using the built-in synthetic-bank defaults", settings.path("data"))
        return DataConfig()
    return settings.data


def check_positive(value: int | None, option: str) -> None:
    from tierwise.features import TierwiseError

    if value is not None and value < 1:
        raise TierwiseError(f"{option} must be a positive whole number, got {value}")


def start_month(value: str | None, cfg: DataConfig, profile: str = "default"):
    from tierwise.features import TierwiseError

    if value is None:
        return cfg.warehouse.start_date() if profile == "warehouse" else cfg.bank.start_date()
    try:
        return parse_month(value, option="--start")
    except typer.BadParameter as exc:
        raise TierwiseError(f"--start: {exc.message}") from None


def with_shift(cfg: DataConfig, industry: str | None, outflow: float | None, start: str | None) -> DataConfig:
    """`cfg` with the `--shift-*` flags applied: `--shift-industry` sets (or replaces) the
    injected shift; `--shift-outflow` / `--shift-from` override its values."""
    from pydantic import ValidationError

    from tierwise.features import TierwiseError
    from tierwise.synthetic import DataConfig

    if industry is None and outflow is None and start is None:
        return cfg
    if industry is None and cfg.shift is None:
        raise TierwiseError("--shift-outflow and --shift-from need --shift-industry NAME "
                            "(or a shift: section in data.yaml)")
    if industry is not None and industry not in cfg.population.industries:
        raise TierwiseError(f"--shift-industry: '{industry}' is not an industry; one of "
                            f"{', '.join(cfg.population.industries)}")
    if outflow is not None and not 0 < outflow < 1:
        raise TierwiseError(f"--shift-outflow must be a share between 0 and 1 (e.g. 0.6), got {outflow}")
    shift = cfg.shift.model_dump() if cfg.shift is not None else {}
    if industry is not None:
        shift["industry"] = industry
    if outflow is not None:
        shift["deposit_outflow"] = outflow
    if start is not None:
        shift["from_month"] = int(start) if start.isdigit() else start
    try:
        return DataConfig.model_validate({**cfg.model_dump(), "shift": shift})
    except ValidationError as exc:
        msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise TierwiseError(f"--shift-from {start}: {msg}") from None


def shift_note(cfg: DataConfig, first, months: int) -> str:
    if cfg.shift is None:
        return ""
    index = cfg.shift.first_index(first, months)
    y, mo = divmod(first.month - 1 + index, 12)
    return (f" (shift: {cfg.shift.industry} moves {cfg.shift.deposit_outflow:.0%} of its assets out "
            f"from {first.year + y}-{mo + 1:02d}, month index {index})")


def check_profile(profile: str, events: bool, dirty: bool) -> None:
    from tierwise.features import TierwiseError
    from tierwise.synthetic import PROFILES

    if profile not in PROFILES:
        raise TierwiseError(f"--profile: '{profile}' is not a profile; one of {', '.join(PROFILES)}")
    if events and profile != "warehouse":
        raise TierwiseError("--events needs --profile warehouse (the default bank records its closures "
                            "and defaults in monthly)")
    if dirty and profile != "default":
        raise TierwiseError(f"--dirty works on the default profile only: its unknown-branch defect needs the "
                            f"branch list the {profile} bank does not supply")


def profile_note(profile: str, cfg: DataConfig, bank: SyntheticBank) -> str:
    """What makes the warehouse bank a warehouse extract, for the one-line summary."""
    if profile != "warehouse":
        return ""
    m = bank.monthly
    loans = m.loc[m["loan_balance"] > 0, "client_id"].nunique()
    events = "" if bank.events is None else f"; events.parquet: {len(bank.events):,} recorded defaults"
    return (f" (warehouse profile: no closure records, the bank's own branch codes, "
            f"{len(cfg.warehouse.empty_columns)} empty product columns, {loans:,} clients with a loan{events})")


@app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write clients/monthly/oracle Parquet files to.")],
    clients: int | None = typer.Option(None, "--clients", help="Number of clients (default: data.yaml bank.clients)."),
    months: int | None = typer.Option(None, "--months", help="Number of months (default: data.yaml bank.months)."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed; the same seed gives identical files."),
    start: str | None = typer.Option(None, "--start", help="First month, YYYY-MM (default: data.yaml bank.start)."),
    dirty: bool = typer.Option(False, "--dirty", help="Inject bad rows and list them in _injected.parquet."),
    shift_industry: str | None = typer.Option(
        None, "--shift-industry", help="Inject a shift: clients of this industry move money out (data.yaml shift:)."),
    shift_outflow: float | None = typer.Option(
        None, "--shift-outflow", help="Share of their deposits and wealth they move out (default 0.6)."),
    shift_from: str | None = typer.Option(
        None, "--shift-from", help="First shifted month, YYYY-MM or a month index (default: mid-window)."),
    profile: str = typer.Option(
        "default", "--profile", help="default: the demo bank (data.yaml bank:); warehouse: a bank that looks like "
                                     "a real warehouse extract, 1,500 clients x 21 months, no closure records, "
                                     "empty product columns (data.yaml warehouse:)."),
    events: bool = typer.Option(
        False, "--events", help="With --profile warehouse: also write events.parquet, the defaults the bank records."),
    config: Path | None = ConfigDirOption,
) -> None:
    """Generate the synthetic bank: clients.parquet, monthly.parquet and oracle.parquet."""
    from tierwise.features import TierwiseError
    from tierwise.synthetic import bank_fingerprint, generate_profile, write_bank

    check_profile(profile, events, dirty)
    check_positive(clients, "--clients")
    check_positive(months, "--months")
    if seed is not None and seed < 0:
        raise TierwiseError(f"--seed must be zero or positive, got {seed}")
    if out.exists() and not out.is_dir():
        raise TierwiseError(f"--out: {out} exists and is not a folder")
    cfg = with_shift(data_config(load_settings(config)), shift_industry, shift_outflow, shift_from)
    sizes = cfg.warehouse if profile == "warehouse" else cfg.bank
    n = sizes.clients if clients is None else clients
    m = sizes.months if months is None else months
    s = cfg.bank.seed if seed is None else seed
    first = start_month(start, cfg, profile)
    began = time.perf_counter()
    with progress_bar("simulating months", total=m) as advance:
        bank = generate_profile(cfg, profile, clients=n, months=m, seed=s, start=first, events=events,
                                progress=advance)
    fingerprint = bank_fingerprint(cfg, clients=n, months=m, seed=s, start=first.isoformat(), dirty=dirty,
                                   profile=profile, events=events)
    write_bank(bank, out, dirty=cfg if dirty else None, seed=s, fingerprint=fingerprint)
    typer.echo(
        f"wrote {n:,} clients, {len(bank.monthly):,} monthly rows, {len(bank.oracle):,} oracle pairs"
        f"{' (with injected defects, see _injected.parquet)' if dirty else ''}"
        f"{profile_note(profile, cfg, bank)}"
        f"{shift_note(cfg, first, m)} to {out} "
        f"in {time.perf_counter() - began:.1f} s"
    )
