"""`tierwise run-month`: the monthly job month after month on a small bank, through the CLI as a
batch operator runs it: partitions, tier memory, exit reviews, pages, monitor; reruns identical;
separate `score` runs read by `monitor` and `report rm`; one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import recommender_factory as factory
from typer.testing import CliRunner

from tierwise.archive import archived_months, latest_snapshot, prior_state, read_archive
from tierwise.cli import app
from tierwise.features import add_months, month_label
from tierwise.monthly import months_between

runner = CliRunner()
MONTHS = 12


def _run(args: list[str]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _partitions(archive) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in sorted(archive.glob("month=*/part-0.parquet"))}


@pytest.fixture(scope="module")
def cycle(scoring_world, tmp_path_factory):
    """Twelve months run with `run-month --from --to` into one archive."""
    with factory.in_store(scoring_world["tracking"], scoring_world["artifacts"]):
        root = tmp_path_factory.mktemp("cycle")
        last = scoring_world["month"]
        first = add_months(last, -(MONTHS - 1))
        common = ["--data", str(scoring_world["bank"]), "--model", scoring_world["model"], "--archive",
                  str(root / "archive"), "--outputs", str(root / "outputs"), "--chunk-clients", "120"]
        result = _run(["run-month", "--from", month_label(first), "--to", month_label(last), *common])
        yield {"root": root, "archive": root / "archive", "outputs": root / "outputs", "first": first, "last": last,
               "common": common, "output": result.output}


def test_twelve_months_write_twelve_partitions_with_memory(cycle):
    months = months_between(cycle["first"], cycle["last"])
    assert archived_months(cycle["archive"]) == months
    lines = [line for line in cycle["output"].splitlines() if line[:7] in {month_label(m) for m in months}]
    assert len(lines) == MONTHS and all("clients (" in line and "RM pages" in line for line in lines)
    got = read_archive(cycle["archive"])
    for before, month in zip(months, months[1:], strict=False):
        earlier = set(got.loc[got["month"] == pd.Timestamp(before), "client_id"])
        now = got[(got["month"] == pd.Timestamp(month)) & got["client_id"].isin(earlier)]
        assert len(now) > 100
        assert now["tier_prev"].notna().all()
        assert not now["tier_reason_en"].str.contains("no tier history").any()
    reviews = got[got["exit_review_status"].notna()]
    assert reviews["exit_review_since"].notna().all()  # every review carries the month it opened
    assert (reviews["exit_review_since"] <= reviews["month"]).all()


def test_every_month_has_its_pages_and_monitor(cycle):
    for month in months_between(cycle["first"], cycle["last"]):
        pages = cycle["outputs"] / "rm_pages" / month_label(month)
        assert (pages / "index.html").is_file()
        assert len(list(pages.glob("rm-*.html"))) >= 1
        monitor = cycle["outputs"] / "monitor" / month_label(month) / "monitor.json"
        assert monitor.is_file() == (month != cycle["first"])  # the first month has no baseline
    last = json.loads((cycle["outputs"] / "monitor" / month_label(cycle["last"]) / "monitor.json").read_text())
    assert last["baseline"] == month_label(add_months(cycle["last"], -1))
    assert len(last["history"]["tiers"]) == MONTHS  # the 12-month migration and tier series


def test_rerunning_a_month_leaves_every_partition_identical(cycle, world):  # world: MLflow env for this test
    before = _partitions(cycle["archive"])
    index = cycle["outputs"] / "rm_pages" / month_label(cycle["last"]) / "index.html"
    page_before = index.read_bytes()
    middle = add_months(cycle["first"], 5)
    _run(["run-month", "--month", month_label(middle), *cycle["common"]])
    _run(["run-month", "--month", month_label(cycle["last"]), *cycle["common"]])
    assert _partitions(cycle["archive"]) == before
    assert index.read_bytes() == page_before


def test_history_of_a_client_present_in_every_month(cycle):
    got = read_archive(cycle["archive"], columns=["tier"])
    counts = got["client_id"].value_counts()
    client = sorted(counts[counts == MONTHS].index)[0]
    result = _run(["history", "--client", client, "--archive", str(cycle["archive"])])
    for month in months_between(cycle["first"], cycle["last"]):
        assert month_label(month) in result.output


def test_separate_score_runs_feed_monitor_and_report_rm(cycle, world, tmp_path):
    archive = tmp_path / "archive"
    months = [add_months(world["month"], -1), world["month"]]
    for month in months:
        _run(["score", "--data", str(world["bank"]), "--month", month_label(month), "--model", world["model"],
              "--archive", str(archive)])
    _run(["monitor", "--month", month_label(months[1]), "--archive", str(archive), "--data", str(world["bank"]),
          "--out", str(tmp_path / "monitor")])
    assert json.loads((tmp_path / "monitor" / "monitor.json").read_text())["baseline"] == month_label(months[0])
    latest = read_archive(archive, months=[months[1]])
    rm = sorted(latest["rm_id"].dropna().unique())[0]
    _run(["report", "rm", "--rm-id", rm, "--month", month_label(months[1]), "--archive", str(archive),
          "--data", str(world["bank"]), "--out", str(tmp_path / "rm.html")])
    assert rm in (tmp_path / "rm.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "message"), [
    (["--month", "2024-01", "--from", "2024-01"], "not both"),
    (["--from", "2024-03"], "--from YYYY-MM and --to YYYY-MM"),
    (["--from", "2024-03", "--to", "2024-01"], "is before --from"),
    (["--month", "2024-1x"], "is not a month"),
    (["--month", "2024-01", "--lang", "fr"], "'fr' is not a language"),
])
def test_bad_arguments_are_one_line(tmp_path, args, message):
    result = runner.invoke(app, ["run-month", "--data", str(tmp_path), *args])
    assert result.exit_code != 0
    assert message in " ".join(result.output.replace("│", " ").split())  # typer's error panel wraps lines


def test_the_served_snapshot_carries_the_tier_memory_the_month_was_scored_with(cycle):
    """`GET /clients/{id}` answers from the snapshot: it must start from the tier the archive
    remembers, as the month's scoring did, or an RM's application would show another tier."""
    path = latest_snapshot(cycle["archive"])
    assert path is not None and f"month={cycle['last'].isoformat()}" in str(path)
    snapshot = pd.read_parquet(path).set_index("client_id")
    before = read_archive(cycle["archive"], months=[add_months(cycle["last"], -1)]).set_index("client_id")
    now = read_archive(cycle["archive"], months=[cycle["last"]]).set_index("client_id")
    both = snapshot.index.intersection(before.index)
    assert len(both) > 100
    assert (snapshot.loc[both, "tier_prev"] == before.loc[both, "tier"]).all()
    assert (snapshot.loc[both, "tier_prev"] == now.loc[both, "tier_prev"]).all()
    prior = prior_state(cycle["archive"], cycle["last"], trend_months=factory.policy_config().risk.trend_months).set_index("client_id")
    pd.testing.assert_series_equal(snapshot.loc[both, "p_default_prev"], prior.loc[both, "p_default_prev"])
