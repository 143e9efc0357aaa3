"""`tierwise groups leads` and the leads wiring (`tierwise.groups`): an archived month of a bank
with relations gives the leads file (Parquet and CSV, the same rows) ranked by flow and owned by
the core client's RM, with ids and amounts only; a bank without relations gets no file and a
log line."""

from __future__ import annotations

import logging
import shutil

import pandas as pd
import pytest
import recommender_factory as factory

from tierwise.archive import read_archive
from tierwise.features import flows_of, month_label, read_raw_tables, read_relations
from tierwise.groups import month_leads
from tierwise.models import LEAD_COLUMNS
from tierwise.registry import load_recommender
from tierwise.scoring import score_pandas


@pytest.fixture(scope="module")
def archived(scoring_world, tmp_path_factory):
    """The scoring bank's last month in an archive."""
    with factory.in_store(scoring_world["tracking"], scoring_world["artifacts"]):
        root = tmp_path_factory.mktemp("leads")
        rec, version, configs = load_recommender(scoring_world["model"])
        score_pandas(scoring_world["bank"], scoring_world["month"], archive=root / "archive", recommender=rec,
                     feature_config=configs.features, model_uri=scoring_world["model"], model_version=version,
                     chunk_clients=150)
        yield {"archive": root / "archive", "bank": scoring_world["bank"], "month": scoring_world["month"]}


def _leads(run_cli, archived, data, out):
    return run_cli("groups", "leads", "--month", month_label(archived["month"]), "--archive",
                   str(archived["archive"]), "--data", str(data), "--out", str(out))


def test_leads_file_ranks_core_clients_counterparties_by_flow_under_their_rm(archived, run_cli, tmp_path):
    bank = tmp_path / "bank"  # the bank's clients table with names and free text in it
    shutil.copytree(archived["bank"], bank)
    named = pd.read_parquet(bank / "clients.parquet")
    named["name"] = [f"Firm {i} Trading Ltd" for i in range(len(named))]
    named["contact_name"] = "Ms Zhang Wei"
    named["note"] = "met at the trade fair"
    named.to_parquet(bank / "clients.parquet", index=False)
    code, stdout, stderr = _leads(run_cli, archived, bank, tmp_path / "leads")
    assert code == 0, stderr
    leads = pd.read_parquet(tmp_path / "leads" / "leads.parquet")
    csv = pd.read_csv(tmp_path / "leads" / "leads.csv", dtype={"rank": "int64"})
    assert list(leads.columns) == list(LEAD_COLUMNS) == list(csv.columns)
    assert len(leads) > 0 and len(csv) == len(leads) and f"wrote {len(leads):,} supply-chain lead(s)" in stdout
    assert csv["counterparty_id"].tolist() == leads["counterparty_id"].tolist()
    recs = read_archive(archived["archive"], months=[archived["month"]]).set_index("client_id")
    clients, _ = read_raw_tables(archived["bank"])
    # owned by the core client's RM; only core clients have leads
    assert set(recs.loc[leads["client_id"], "tier"]) <= {"Premier", "Excellence"}
    owner = recs.loc[leads["client_id"], "rm_id"].reset_index(drop=True)
    pd.testing.assert_series_equal(leads["rm_id"], owner, check_names=False)  # empty for a client without an RM
    # non-clients are not in the clients table; client leads have growth potential
    ids = set(clients["client_id"].astype("str"))
    non = leads[leads["lead_kind"] == "non_client"]
    assert len(non) > 0 and not non["counterparty_id"].isin(ids).any()
    grow = leads[leads["lead_kind"] == "client_growth"]
    assert grow["counterparty_id"].isin(ids).all()
    assert (recs.loc[grow["counterparty_id"], "flag_growth_lead"].to_numpy()
            | (recs.loc[grow["counterparty_id"], "growth"].to_numpy() >= 0.15)).all()
    # ranked by the month's flow, recomputed from the relations table
    flows = flows_of(read_relations(archived["bank"]).kept, pd.Timestamp(archived["month"]))
    pair = flows.groupby(["client_id", "counterparty_id"])["amount"].sum()
    first = leads["client_id"].iat[0]
    mine = leads[leads["client_id"] == first]
    assert mine["rank"].tolist() == list(range(1, len(mine) + 1))
    assert mine["flow_amount"].tolist() == [pair[(first, c)] for c in mine["counterparty_id"]]
    assert mine["flow_amount"].is_monotonic_decreasing
    # no personal data: of the clients table only the client and RM ids, no name or free text
    assert set(leads.columns) & set(named.columns) == {"client_id", "rm_id"}
    text = set(leads.astype("str").to_numpy().ravel()) | set(csv.astype("str").to_numpy().ravel())
    assert not text & {*named["name"], "Ms Zhang Wei", "met at the trade fair"}
    raw = (tmp_path / "leads" / "leads.csv").read_text()
    assert "Trading Ltd" not in raw and "Zhang" not in raw and "trade fair" not in raw


def test_a_bank_without_relations_gets_no_leads_file_and_a_log_line(archived, run_cli, tmp_path, caplog):
    bank = tmp_path / "bank"
    shutil.copytree(archived["bank"], bank)
    for path in bank.glob("relations.*"):
        path.unlink()
    recs = read_archive(archived["archive"], months=[archived["month"]])
    with caplog.at_level(logging.INFO, logger="tierwise.groups"):  # before the CLI configures logging
        assert month_leads(bank, archived["month"], recs, recs["client_id"], min_growth=0.15) is None
    assert any("no supply-chain leads" in r.getMessage() for r in caplog.records)
    code, stdout, stderr = _leads(run_cli, archived, bank, tmp_path / "leads")
    assert code == 0, stderr
    assert "no relations table" in stdout and not (tmp_path / "leads").exists()


def test_leads_of_a_month_not_archived_is_one_line(archived, run_cli, tmp_path):
    code, _, stderr = run_cli("groups", "leads", "--month", "1999-01", "--archive", str(archived["archive"]),
                              "--data", str(archived["bank"]), "--out", str(tmp_path / "x"))
    assert code != 0 and "1999-01 is not archived" in stderr and "Traceback" not in stderr
