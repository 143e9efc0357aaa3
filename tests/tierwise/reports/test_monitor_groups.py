"""The monitor's connected groups: a real `tierwise monitor` on two scored months of a bank with
relations (a group over the limit is flagged once Tier 1 capital is set, nothing before), group
concentration beside industry and region, and group changes month to month."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import recommender_factory as factory

from tierwise.archive import read_archive
from tierwise.features import add_months, month_label
from tierwise.models import GroupsConfig, group_table
from tierwise.registry import load_recommender
from tierwise.reports._config import ConcentrationConfig
from tierwise.reports._monitor_groups import group_changes, groups_block, groups_of
from tierwise.scoring import score_pandas

CONFIG_DIR = Path(__file__).resolve().parents[3] / "configs"


@pytest.fixture(scope="module")
def scored(scoring_world, tmp_path_factory):
    """Two consecutive months of the scoring bank (with its relations) in one archive."""
    with factory.in_store(scoring_world["tracking"], scoring_world["artifacts"]):
        root = tmp_path_factory.mktemp("monitor-groups")
        rec, version, configs = load_recommender(scoring_world["model"])
        month = scoring_world["month"]
        for m in (add_months(month, -1), month):
            score_pandas(scoring_world["bank"], m, archive=root / "archive", recommender=rec,
                         feature_config=configs.features, model_uri=scoring_world["model"], model_version=version,
                         chunk_clients=150)
        yield {"root": root, "archive": root / "archive", "month": month, "bank": scoring_world["bank"]}


def _config_dir(tmp_path, capital: float | None):
    folder = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, folder)
    if capital is not None:
        path = folder / "monitor.yaml"
        text = path.read_text()
        assert "  tier1_capital: null" in text
        path.write_text(text.replace("  tier1_capital: null", f"  tier1_capital: {float(capital)!r}"))
    return folder


def _monitor(run_cli, scored, tmp_path, capital):
    out = tmp_path / "monitor"
    code, stdout, stderr = run_cli("monitor", "--out", str(out), "--archive", str(scored["archive"]),
                                   "--data", str(scored["bank"]), "--month", month_label(scored["month"]),
                                   "--config-dir", str(_config_dir(tmp_path, capital)))
    assert code == 0, stderr
    return json.loads((out / "monitor.json").read_text()), (out / "monitor.html").read_text(), stdout


def test_a_group_over_the_limit_is_flagged_in_the_monitor(scored, world, run_cli, tmp_path):
    now = read_archive(scored["archive"], months=[scored["month"]])
    table = group_table(now, groups_of(now), GroupsConfig())
    assert len(table) >= 2 and table["exposure"].iat[0] > 0
    largest, second = table["exposure"].iat[0], table["exposure"].iat[1]
    capital = largest / 0.3  # the largest group holds 30% of capital: over the 25% limit
    result, html, stdout = _monitor(run_cli, scored, tmp_path, capital)
    limits = result["groups"]["limits"]
    over = [row["group_id"] for row in limits["table"] if row["flag_over_limit"]]
    expected = table.loc[table["exposure"] / capital > 0.25, "group_id"].tolist()
    assert over == expected and over[0] == table["group_id"].iat[0]
    assert limits["over_limit"] == len(expected)
    assert limits["reporting"] == int((table["exposure"] / capital >= 0.10).sum())
    assert (second / capital > 0.25) == (len(expected) > 1)
    alerts = [a for a in result["alerts"] if a["kind"] == "groups"]
    assert [a["segment"] for a in alerts] == expected
    assert abs(alerts[0]["value"] - 0.3) < 1e-9 and alerts[0]["limit"] == 0.25
    assert f"group '{expected[0]}'" in stdout
    assert f'data-group="{expected[0]}" class="alert" data-flag="over_limit"' in html


def test_without_tier1_capital_nothing_is_flagged_and_the_page_says_so(scored, world, run_cli, tmp_path):
    result, html, _ = _monitor(run_cli, scored, tmp_path, None)
    groups = result["groups"]
    assert groups["available"] and not groups["limits"]["configured"]
    assert groups["limits"]["over_limit"] is None and not any(a["kind"] == "groups" for a in result["alerts"])
    assert all(row["flag_over_limit"] is None for row in groups["limits"]["table"])
    assert "groups.tier1_capital is not set" in html and 'data-flag="over_limit"' not in html
    # concentration by group beside industry and region, on the page and in the metrics
    conc = groups["concentration"]
    assert 0 < conc["hhi_value"] <= 1 and 0 < conc["top_share_exposure"] <= 1
    assert conc["hhi_value"] >= 1 / conc["groups"] - 1e-12
    assert 'data-hhi="group"' in html and 'data-hhi="industry"' in html
    assert groups["changes"] is not None and groups["changes"]["crossed"] is None


def _series(mapping: dict[str, str]) -> pd.Series:
    return pd.Series(mapping, name="group_id").rename_axis("client_id")


def _flags(groups: dict[str, bool]) -> pd.DataFrame:
    return pd.DataFrame({"group_id": list(groups), "flag_reporting": pd.array(list(groups.values()), "boolean"),
                         "flag_over_limit": pd.array(list(groups.values()), "boolean")})


def test_group_changes_month_to_month_are_told_by_members():
    before = _series({"A": "A", "B": "A", "C": "C", "D": "C", "E": "E", "F": "E", "G": "G", "H": "G", "I": "I",
                      "J": "J", "K": "K", "L": "L"})
    now = _series({"A": "A", "B": "A", "C": "A", "D": "A",   # groups A and C merged
                   "E": "E", "F": "F",                       # E dissolved: both alone now
                   "G": "G", "H": "G", "M": "G",             # G kept (a new member joined)
                   "I": "I", "J": "I",                       # I appeared (both were alone)
                   "K": "K", "L": "L"})                      # alone then, alone now: no change
    changes = group_changes(before, now, _flags({"A": False, "C": True, "E": False, "G": False}),
                            _flags({"A": False, "G": True, "I": False}), configured=True)
    assert [g["group_id"] for g in changes["appeared"]["groups"]] == ["I"]
    assert changes["merged"]["groups"] == [{"group_id": "A", "members": 4, "from": ["A", "C"]}]
    assert [g["group_id"] for g in changes["dissolved"]["groups"]] == ["E"]
    assert changes["split"]["count"] == 0
    crossed = changes["crossed"]["over_limit"]
    assert [g["group_id"] for g in crossed["up"]] == ["G"]          # G over the limit now, was not
    assert [g["group_id"] for g in crossed["down"]] == ["C"]        # C's members are in A, not over


def test_a_split_is_a_group_whose_members_went_to_two_groups():
    before = _series({"A": "A", "B": "A", "C": "A", "D": "A"})
    now = _series({"A": "A", "B": "A", "C": "C", "D": "C"})
    changes = group_changes(before, now, _flags({}), _flags({}), configured=False)
    assert changes["split"]["groups"] == [{"group_id": "A", "members_before": 4, "into": ["A", "C"]}]
    assert changes["appeared"]["count"] == 0 and changes["crossed"] is None


def test_a_month_without_group_ids_has_no_groups_section_and_no_alerts():
    recs = pd.DataFrame({"client_id": ["A", "B"], "tier": ["Premier", "General"], "credit_exposure": [1.0, 2.0],
                         "expected_value_12m": [1.0, 1.0], "group_id": pd.array([None, None], "str")})
    block, alerts = groups_block(recs, recs, pd.Timestamp("2024-02-01"), pd.Timestamp("2024-01-01"),
                                 GroupsConfig(tier1_capital=1.0), ConcentrationConfig())
    assert block["available"] is False and "no relations table" in block["note"] and alerts == []
    old = recs.drop(columns="group_id")  # an archive written before group ids were kept
    assert groups_block(old, old, pd.Timestamp("2024-02-01"), pd.Timestamp("2024-01-01"),
                        GroupsConfig(), ConcentrationConfig())[0]["available"] is False
