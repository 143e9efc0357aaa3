"""Writing a generated bank to a folder (atomically, file by file)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from tierwise.features import (
    CLIENT_COLUMNS,
    MONTHLY_COLUMNS,
    column_names,
    make_folder,
    write_table,
    write_text_atomic,
)
from tierwise.synthetic._bank import SyntheticBank
from tierwise.synthetic._config import DataConfig
from tierwise.synthetic._dirty import inject_defects

MANIFEST = "_generated.json"


def bank_fingerprint(cfg: DataConfig, *, clients: int, months: int, seed: int, start: str, dirty: bool,
                     profile: str = "default", events: bool = False) -> str:
    """A hash of everything that determines the generated files."""
    config = cfg.model_dump(mode="json")
    if config.get("shift") is None:
        config.pop("shift", None)  # no shift: the same fingerprint as before the switch existed
    if config.get("products") is None:
        config.pop("products", None)  # no product adoption: likewise
    run = {"clients": clients, "months": months, "seed": seed, "start": start, "dirty": dirty}
    if profile == "default":
        config.pop("warehouse", None)  # the default bank: the same fingerprint as before profiles existed
    else:
        run |= {"profile": profile, "events": events}
    payload = json.dumps({"config": config, **run}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def write_bank(bank: SyntheticBank, out: str | Path, *, dirty: DataConfig | None = None, seed: int = 0,
               fingerprint: str = "") -> dict[str, Path]:
    """Write clients/monthly/oracle Parquet files (and `_injected.parquet` when `dirty` is given,
    `events.parquet` when the bank has an events table; a stale one is removed otherwise).

    `dirty` is the config whose `dirty` section says how many bad rows to inject; the
    injection has its own random stream derived from `seed`.
    """
    out = make_folder(out)
    clients, monthly = bank.clients, bank.monthly
    written: dict[str, Path] = {}
    stale = out / "_injected.parquet"
    if dirty is not None:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xD1247]))
        clients, monthly, injected = inject_defects(clients, monthly, dirty.dirty, rng)
        written["injected"] = write_table(injected, out / "_injected.parquet")
    elif stale.exists():
        stale.unlink()
    assert list(clients.columns) == column_names(CLIENT_COLUMNS)
    assert list(monthly.columns) == column_names(MONTHLY_COLUMNS)
    written["clients"] = write_table(clients, out / "clients.parquet", month_columns=("onboarding_month",))
    written["monthly"] = write_table(monthly, out / "monthly.parquet", month_columns=("month",))
    written["oracle"] = write_table(bank.oracle, out / "oracle.parquet", month_columns=("snapshot_month",))
    manifest = {"fingerprint": fingerprint, "clients": len(bank.clients), "monthly_rows": len(monthly),
                "oracle_pairs": len(bank.oracle), "dirty": dirty is not None}
    events = out / "events.parquet"
    if bank.events is not None:
        written["events"] = write_table(bank.events, events, month_columns=("month",))
        manifest["events"] = len(bank.events)
    else:
        events.unlink(missing_ok=True)
    for name, frame, months in (("relations", bank.relations, ("month",)), ("oracle_groups", bank.group_oracle, ())):
        if frame is not None:
            written[name] = write_table(frame, out / f"{name}.parquet", month_columns=months)
            manifest[name] = len(frame)
        else:
            (out / f"{name}.parquet").unlink(missing_ok=True)
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return written


def read_manifest(out: str | Path) -> dict:
    path = Path(out) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def read_oracle(folder: str | Path) -> pd.DataFrame:
    return pd.read_parquet(Path(folder) / "oracle.parquet")


def read_group_oracle(folder: str | Path) -> pd.DataFrame:
    """The planted groups of the network: client_id, control_group, dependence_group."""
    return pd.read_parquet(Path(folder) / "oracle_groups.parquet")
