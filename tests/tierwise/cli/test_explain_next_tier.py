"""`tierwise explain --next-tier` on the registered tiny recommender of `world` (real MLflow
store, real bank): the client's card followed by the verified alternatives in both languages,
the reason when there is none, the archive's tier, review and memory when the month is
archived (real `tierwise score` runs into a tmp archive), one-line errors."""

from __future__ import annotations

import re

import pandas as pd

from tierwise.archive import read_archive, write_month
from tierwise.features import (
    add_months,
    month_label,
    read_raw_tables,
    snapshot_features,
    validate_tables,
)
from tierwise.models import NextTierSearch
from tierwise.registry import load_recommender
from tierwise.settings import load_settings


def _flat(output: str) -> str:
    return re.sub(r"[\s│╭╮╰╯─•]+", " ", output)


def _answers(world, config_dir, held=None):
    loaded = load_recommender(world["model"])
    clients, monthly = read_raw_tables(world["bank"])
    report = validate_tables(clients, monthly)
    feats = snapshot_features(report.clients, report.monthly, world["month"], loaded.settings.features)
    search = NextTierSearch.for_population(loaded.recommender, load_settings(config_dir).next_tier,
                                           loaded.settings.features, feats, held=held)
    return {a.client_id: a for a in search.search(feats, held=held)}


def test_next_tier_prints_the_verified_alternatives_and_the_reasons(world, run_cli, config_dir):
    answers = _answers(world, config_dir)
    month = pd.Timestamp(world["month"]).strftime("%Y-%m")
    found = next(a for a in answers.values() if a.status == "found")
    code, out, err = run_cli("explain", "--client", found.client_id, "--month", month, "--data", str(world["bank"]),
                             "--next-tier")
    assert code == 0, err
    flat = _flat(out)
    assert "Churn likelihood" in flat and "Default risk" in flat and "Growth potential" in flat  # the card first
    assert flat.index("Growth potential") < flat.index("What would make the client")
    assert "without tier memory" in flat  # no archive here: said so
    assert f"What would make the client {found.target}" in flat
    assert flat.count(", expected value ") == len(found.alternatives)
    assert f": {found.alternatives[0].tier}, expected value" in flat
    code, out, _ = run_cli("explain", "--client", found.client_id, "--month", month, "--data", str(world["bank"]),
                           "--next-tier", "--lang", "zh")
    assert code == 0 and "的途径" in _flat(out) and "预期价值" in _flat(out)
    in_default = next((a for a in answers.values() if a.status == "in_default"), None)
    if in_default is not None:
        code, out, _ = run_cli("explain", "--client", in_default.client_id, "--month", month,
                               "--data", str(world["bank"]), "--next-tier")
        assert code == 0 and "in default: no upgrade is offered" in _flat(out)


def test_next_tier_for_an_unknown_client_is_one_line(world, run_cli):
    month = pd.Timestamp(world["month"]).strftime("%Y-%m")
    code, out, err = run_cli("explain", "--client", "NOPE", "--month", month, "--data", str(world["bank"]),
                             "--next-tier")
    assert code != 0 and "Traceback" not in err + out
    assert "client 'NOPE' is not in" in err


def test_next_tier_starts_from_the_archived_tier_review_and_memory(world, run_cli, config_dir, tmp_path):
    archive = tmp_path / "archive"
    month = world["month"]
    for when in (add_months(month, -1), month):  # the month scored with the memory of the one before
        code, _, err = run_cli("score", "--data", str(world["bank"]), "--month", month_label(when),
                               "--model", world["model"], "--archive", str(archive))
        assert code == 0, err
    held = read_archive(archive, months=[month])
    answers = _answers(world, config_dir, held=held)
    found = [a for a in answers.values() if a.status == "found"]
    assert found and all(a.from_archive for a in answers.values())
    first = found[0]
    mine = held[held["client_id"] == first.client_id].iloc[0]
    assert first.tier == mine["tier"]
    args = ["explain", "--client", first.client_id, "--month", month_label(month), "--data", str(world["bank"]),
            "--next-tier", "--archive", str(archive)]
    code, out, err = run_cli(*args)
    assert code == 0, err
    flat = _flat(out)
    assert f"Tier as the archive holds it for {month_label(month)}: {mine['tier']}" in flat
    assert f"What would make the client {first.target}" in flat and "Churn likelihood" in flat
    assert flat.count(", expected value ") == len(first.alternatives)
    code, out, _ = run_cli(*args, "--lang", "zh")
    assert code == 0 and f"档案中{month_label(month)}的层级" in _flat(out)

    # the archive says the client is under exit review, another is Premier: one sentence each, no steps
    clients, monthly = read_raw_tables(world["bank"])
    report = validate_tables(clients, monthly)
    dirty = set(report.rejected_monthly["client_id"].astype(str)) | set(report.rejected_clients["client_id"].astype(str))
    other = next(a.client_id for a in found[1:] if a.client_id not in dirty)  # explain reads the raw rows
    held.loc[held["client_id"] == first.client_id, "exit_review_status"] = "open"
    held.loc[held["client_id"] == other, "tier"] = "Premier"
    write_month(archive, month, held)
    code, out, err = run_cli(*args)
    assert code == 0, err
    flat = _flat(out)
    assert "under exit review: no upgrade is offered while the review is open" in flat
    assert ", expected value " not in flat
    code, out, err = run_cli("explain", "--client", other, "--month", month_label(month), "--data", str(world["bank"]),
                           "--next-tier", "--archive", str(archive))
    assert code == 0, err
    assert "already Premier: there is no higher tier" in _flat(out)
