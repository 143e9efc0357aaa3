"""`tierwise explain --next-tier` on the registered tiny recommender of `world` (real MLflow
store, real bank): verified alternatives in both languages, the reason when there is none,
one-line errors."""

from __future__ import annotations

import re

import pandas as pd

from tierwise.features import read_raw_tables, snapshot_features, validate_tables
from tierwise.models import NextTierSearch
from tierwise.registry import load_recommender
from tierwise.settings import load_settings


def _flat(output: str) -> str:
    return re.sub(r"[\s│╭╮╰╯─•]+", " ", output)


def _answers(world, config_dir):
    loaded = load_recommender(world["model"])
    clients, monthly = read_raw_tables(world["bank"])
    report = validate_tables(clients, monthly)
    feats = snapshot_features(report.clients, report.monthly, world["month"], loaded.settings.features)
    search = NextTierSearch.for_population(loaded.recommender, load_settings(config_dir).next_tier,
                                           loaded.settings.features, feats)
    return {a.client_id: a for a in search.search(feats)}


def test_next_tier_prints_the_verified_alternatives_and_the_reasons(world, run_cli, config_dir):
    answers = _answers(world, config_dir)
    month = pd.Timestamp(world["month"]).strftime("%Y-%m")
    found = next(a for a in answers.values() if a.status == "found")
    code, out, err = run_cli("explain", "--client", found.client_id, "--month", month, "--data", str(world["bank"]),
                             "--next-tier")
    assert code == 0, err
    flat = _flat(out)
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
