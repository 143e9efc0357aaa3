"""Scoring with relations: contagion inside connected groups, bad relation rows quarantined, and a
bank without relations scored exactly as before."""

from __future__ import annotations

import shutil

import pandas as pd

from tierwise.features import read_raw_tables
from tierwise.registry import load_recommender
from tierwise.scoring import rejects_path, score_pandas


def _bank_copy(world, tmp_path, relations: pd.DataFrame | None):
    folder = tmp_path / "bank"
    shutil.copytree(world["bank"], folder)
    (folder / "relations.parquet").unlink(missing_ok=True)
    if relations is not None:
        relations.to_csv(folder / "relations.csv", index=False)
    return folder


def _score(world, folder, out):
    rec, version, configs = load_recommender(world["model"])
    score_pandas(folder, world["month"], out, recommender=rec, feature_config=configs.features,
                 model_uri=world["model"], model_version=version, chunk_clients=100)
    return pd.read_parquet(out).set_index("client_id")


def test_without_relations_contagion_never_runs_and_with_them_it_reaches_every_other_member(world, tmp_path):
    plain = _score(world, _bank_copy(world, tmp_path / "a", None), tmp_path / "plain.parquet")
    assert not plain["tier_reason_en"].str.contains("related firm").any()
    trigger = plain.index[plain["flag_in_default"]][0]
    calm = plain.index[~plain["flag_risk_watch"] & ~plain["flag_in_default"] & ~plain["flag_exit_review"]][:3]
    month = f"{world['month']:%Y-%m}-01"
    rows = [(trigger, calm[0], "control", 0.9, None, month), (calm[1], trigger, "guarantee", None, 1e5, month),
            (trigger, "X0000001", "control", 1.0, None, month),  # a non-client joins no one
            (calm[2], calm[2], "control", 1.0, None, month)]      # a firm linked to itself: quarantined
    relations = pd.DataFrame(rows, columns=["client_id", "counterparty_id", "kind", "share", "amount", "month"])
    linked = _score(world, _bank_copy(world, tmp_path / "b", relations), tmp_path / "linked.parquet")
    for member in calm[:2]:
        assert linked.loc[member, "flag_risk_watch"]
        assert linked.loc[member, "tier_reason_en"] == plain.loc[member, "tier_reason_en"] + "; related firm in default"
        assert linked.loc[member, "tier_reason_zh"].endswith("关联企业已违约")
    rest = linked.index.difference(pd.Index(calm[:2]))
    # the archive rows keep each client's group: null without relations, the smallest member with them
    assert plain["group_id"].isna().all()
    group = min(trigger, calm[0], calm[1])
    assert (linked.loc[[trigger, *calm[:2]], "group_id"] == group).all()
    alone = rest.difference(pd.Index([trigger]))
    assert (linked.loc[alone, "group_id"] == alone).all()
    pd.testing.assert_frame_equal(linked.loc[rest].drop(columns=["input_fingerprint", "group_id"]),
                                  plain.loc[rest].drop(columns=["input_fingerprint", "group_id"]))
    assert linked["input_fingerprint"].iat[0] != plain["input_fingerprint"].iat[0]  # relations are an input
    rejects = pd.read_parquet(rejects_path(tmp_path / "linked.parquet"))
    bad = rejects[rejects["table"] == "relations"]
    assert bad["_row"].tolist() == [3] and "linked to itself" in bad["reason"].iat[0]
    clients, _ = read_raw_tables(world["bank"])
    assert set(linked.index) <= set(clients["client_id"])


def test_the_input_fingerprint_covers_the_relations_table_only_when_there_is_one(tmp_path):
    from tierwise.scoring import file_fingerprint
    from tierwise.scoring._job import fingerprinted_files, input_files

    folder = tmp_path / "bank"
    folder.mkdir()
    for name in ("clients", "monthly"):
        (folder / f"{name}.csv").write_text("client_id\nC1\n")
    assert fingerprinted_files(folder) == input_files(folder)  # a bank without relations: as before
    before = file_fingerprint(fingerprinted_files(folder), "2024-01-01")
    (folder / "relations.csv").write_text("client_id,counterparty_id,kind,share,amount,month\n")
    with_relations = file_fingerprint(fingerprinted_files(folder), "2024-01-01")
    (folder / "relations.csv").write_text("client_id,counterparty_id,kind,share,amount,month\nC1,X1,supplier,,5,2024-01-01\n")
    changed = file_fingerprint(fingerprinted_files(folder), "2024-01-01")
    assert len({before, with_relations, changed}) == 3  # a resume after relations change recomputes
