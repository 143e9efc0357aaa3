"""The synthetic network of firms: planted groups, its own random stream, the relations file."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from tierwise.features import (
    check_relations,
    connected_groups,
    group_edges,
    groups_of_month,
    read_relations,
)
from tierwise.synthetic import (
    DataConfig,
    NetworkConfig,
    OracleConfig,
    generate_bank,
    read_group_oracle,
    write_bank,
)

CFG = DataConfig(oracle=OracleConfig(pairs=100, snapshots=1))


@pytest.fixture(scope="module")
def bank():
    return generate_bank(CFG, clients=3000, months=14, seed=21)


def test_the_network_does_not_change_the_other_tables():
    off = CFG.model_copy(update={"network": NetworkConfig(enabled=False)})
    a = generate_bank(CFG, clients=400, months=14, seed=3)
    b = generate_bank(off, clients=400, months=14, seed=3)
    for x, y in ((a.clients, b.clients), (a.monthly, b.monthly), (a.oracle, b.oracle)):
        pd.testing.assert_frame_equal(x, y)
    assert b.relations is None and b.group_oracle is None
    again = generate_bank(CFG, clients=400, months=14, seed=3)
    pd.testing.assert_frame_equal(a.relations, again.relations)
    pd.testing.assert_frame_equal(a.group_oracle, again.group_oracle)


def test_relations_follow_the_contract_and_name_no_one(bank):
    report = check_relations(bank.relations, client_ids=bank.clients["client_id"])
    assert report.rejected.empty
    sme = set(bank.clients.query("segment == 'sme'")["client_id"])
    assert set(bank.relations["client_id"]) <= sme
    others = set(bank.relations["counterparty_id"]) - sme
    assert others and all(c.startswith("X") and c[1:].isdigit() for c in others)
    assert set(bank.relations["kind"]) == {"control", "guarantee", "supplier", "customer"}


def test_planted_groups_are_recovered(bank):
    rel = check_relations(bank.relations).kept
    oracle = bank.group_oracle
    last = rel["month"].max()
    control = connected_groups(oracle["client_id"], group_edges(rel, last, include=("control", "guarantee")))
    assert adjusted_rand_score(oracle["control_group"], control.reindex(oracle["client_id"])) == 1.0
    assert (oracle["control_group"].value_counts() > 1).sum() >= 10, "groups are planted"
    every = groups_of_month(oracle["client_id"], rel, last).reindex(oracle["client_id"])
    assert adjusted_rand_score(oracle["dependence_group"], every) >= 0.85


def test_generate_writes_relations_beside_the_tables(bank, tmp_path):
    write_bank(bank, tmp_path, seed=21)
    assert len(read_relations(tmp_path).kept) == len(bank.relations)
    pd.testing.assert_frame_equal(read_group_oracle(tmp_path), bank.group_oracle)
    off = generate_bank(CFG.model_copy(update={"network": NetworkConfig(enabled=False)}), clients=50, months=3, seed=1)
    write_bank(off, tmp_path, seed=1)
    assert read_relations(tmp_path) is None and not (tmp_path / "oracle_groups.parquet").exists()
