"""The pandas engine's two ways of handing each chunk its monthly rows: streamed from a file in
client_id order, or split into chunk files first (any other file). Both give the same bytes;
a file that only looks ordered falls back to the split and is still right."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tierwise.registry import load_recommender
from tierwise.scoring import _pandas_engine as engine
from tierwise.scoring import parts_path, rejects_path, score_pandas


def _score(world, bank: Path, out: Path, chunk: int = 40):
    rec, version, configs = load_recommender(world["model"])
    return score_pandas(bank, world["month"], out, recommender=rec, feature_config=configs.features,
                        model_uri=world["model"], model_version=version, chunk_clients=chunk, keep_parts=True)


def _sources(out: Path) -> set[str]:
    """How the monthly rows of each chunk part came ("streamed" or "split")."""
    manifest = json.loads((parts_path(out) / "manifest.json").read_text())
    return {entry["source"] for entry in manifest["chunks"]}


def _copy_bank(world, folder: Path, monthly: pa.Table | None = None, **options) -> Path:
    shutil.copytree(world["bank"], folder)
    if monthly is not None:
        pq.write_table(monthly, folder / "monthly.parquet", **options)
    return folder


def _force_split(monkeypatch) -> None:
    monkeypatch.setattr(engine, "_in_order_by_statistics", lambda path: False)


def test_the_streamed_and_the_split_paths_write_the_same_bytes(world, tmp_path, monkeypatch):
    assert engine._in_order_by_statistics(world["bank"] / "monthly.parquet")  # the synthetic bank is ordered
    streamed = _score(world, world["bank"], tmp_path / "streamed.parquet")
    assert _sources(tmp_path / "streamed.parquet") == {"streamed"}
    _force_split(monkeypatch)
    split = _score(world, world["bank"], tmp_path / "split.parquet")
    assert _sources(tmp_path / "split.parquet") == {"split"}
    assert streamed.chunks == split.chunks > 3 and streamed.rejected == split.rejected
    assert (tmp_path / "streamed.parquet").read_bytes() == (tmp_path / "split.parquet").read_bytes()
    assert rejects_path(tmp_path / "streamed.parquet").read_bytes() == rejects_path(tmp_path / "split.parquet").read_bytes()


def test_shuffled_rows_are_split_and_score_the_same(world, tmp_path):
    monthly = pq.read_table(world["bank"] / "monthly.parquet")
    order = np.random.default_rng(7).permutation(monthly.num_rows)
    shuffled = _copy_bank(world, tmp_path / "shuffled", monthly.take(pa.array(order)), row_group_size=500)
    assert not engine._in_order_by_statistics(shuffled / "monthly.parquet")
    _score(world, world["bank"], tmp_path / "sorted.parquet")
    _score(world, shuffled, tmp_path / "shuffled.parquet")
    assert _sources(tmp_path / "shuffled.parquet") == {"split"}
    fingerprint = ["input_fingerprint"]  # the bytes of the inputs differ
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "shuffled.parquet").drop(columns=fingerprint),
                                  pd.read_parquet(tmp_path / "sorted.parquet").drop(columns=fingerprint))
    got = pd.read_parquet(rejects_path(tmp_path / "shuffled.parquet"))
    want = pd.read_parquet(rejects_path(tmp_path / "sorted.parquet"))
    monthly_rows = got["table"] == "monthly"
    assert monthly_rows.sum() > 0  # the dirty bank has bad monthly rows
    # a shuffled row's position names its row in the sorted file (`order`); of two duplicate
    # rows the file order decides which one is quarantined, so the rows are compared by key
    named = monthly.take(pa.array(order[got.loc[monthly_rows, "_row"].to_numpy()])).to_pandas()
    assert named["client_id"].tolist() == got.loc[monthly_rows, "client_id"].tolist()
    key = ["table", "client_id", "month", "reason"]
    pd.testing.assert_frame_equal(got.drop(columns="_row").sort_values(key, ignore_index=True),
                                  want.drop(columns="_row").sort_values(key, ignore_index=True))


def _client_changes(ids: pa.ChunkedArray) -> np.ndarray:
    values = ids.to_numpy()
    return np.flatnonzero(values[1:] != values[:-1]) + 1  # first row of each client after the first


@pytest.mark.parametrize("where", ["inside a batch", "across batches"])
def test_rows_out_of_order_in_a_file_ordered_by_its_statistics_fall_back_to_the_split(
        world, tmp_path, monkeypatch, caplog, where):
    monkeypatch.setattr(engine, "STREAM_BATCH_ROWS", 512)  # several batches, chunks streamed before the disorder
    monthly = pq.read_table(world["bank"] / "monthly.parquet")
    changes = _client_changes(monthly.column("client_id"))
    if where == "inside a batch":
        first = int(changes[np.searchsorted(changes, 3000)])
        a, b = first - 1, first + 5  # rows of two clients, both inside the batch of rows 2560-3071
    else:
        first = int(changes[np.searchsorted(changes, 2048)])
        a, b = 2047, first  # the last row of a batch and a later client's row in the next one
    assert a // 512 == b // 512 if where == "inside a batch" else a // 512 < b // 512
    order = np.arange(monthly.num_rows)
    order[[a, b]] = order[[b, a]]
    bank = _copy_bank(world, tmp_path / "bank", monthly.take(pa.array(order)))  # one row group: its statistics hold
    assert engine._in_order_by_statistics(bank / "monthly.parquet")
    with caplog.at_level(logging.INFO, logger=engine.__name__):
        fell_back = _score(world, bank, tmp_path / "fell_back.parquet", chunk=20)
    assert _sources(tmp_path / "fell_back.parquet") == {"split"}
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "is in client_id order" in said and "goes down" in said and "split by chunk" in said
    _force_split(monkeypatch)
    split = _score(world, bank, tmp_path / "split.parquet", chunk=20)
    assert fell_back.clients == split.clients and fell_back.resumed_chunks == 0
    assert (tmp_path / "fell_back.parquet").read_bytes() == (tmp_path / "split.parquet").read_bytes()
    assert (rejects_path(tmp_path / "fell_back.parquet").read_bytes()
            == rejects_path(tmp_path / "split.parquet").read_bytes())


def _ids_file(path: Path, groups: list[list[str | None]]) -> Path:
    """A monthly-like file (client_id only) with one row group per list of ids."""
    with pq.ParquetWriter(path, pa.schema([("client_id", pa.large_string())])) as writer:
        for ids in groups:
            writer.write_table(pa.table({"client_id": pa.array(ids, pa.large_string())}))
    return path


@pytest.mark.parametrize(("groups", "ordered"), [
    ([["C1", "C1", "C2"], ["C2", "C3"]], True),  # a client across two row groups
    ([["C1", "C3"], ["C2", "C4"]], False),  # row groups overlap
    ([["C1", None], ["C2"]], False),  # a missing id
])
def test_the_order_is_first_decided_from_the_row_group_statistics(tmp_path, groups, ordered):
    assert engine._in_order_by_statistics(_ids_file(tmp_path / "monthly.parquet", groups)) is ordered


def test_a_csv_monthly_table_is_split(tmp_path):
    (tmp_path / "monthly.csv").write_text("client_id,month\nC1,2024-01\n")
    assert not engine._in_order_by_statistics(tmp_path / "monthly.csv")


def _monthly_ids_file(path: Path, ids: list[str]) -> Path:
    months = pa.array(np.full(len(ids), np.datetime64("2024-01-01", "D")))
    extra = {c.name: pa.nulls(len(ids), pa.float64()) for c in engine.MONTHLY_COLUMNS
             if c.name not in ("client_id", "month")}
    pq.write_table(pa.table({"client_id": pa.array(ids, pa.large_string()), "month": months, **extra}), path)
    return path


def test_streamed_chunks_hold_the_rows_the_split_gives_them(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "STREAM_BATCH_ROWS", 3)  # clients across batches
    ids = ["A0", "B1", "B1", "B1", "B1", "B2", "C5", "C5", "C7", "E1", "E1"]  # A0 below the first chunk; no D*
    lowers = ["B1", "C1", "D1", "E1"]
    path = _monthly_ids_file(tmp_path / "monthly.parquet", ids)
    got = {index: None if box[0] is None else box[0].column("_row").to_pylist()
           for index, box in engine._streamed_monthly(path, lowers)}
    want_chunk = engine._chunk_of(pa.array(ids), lowers)  # what the split assigns
    want = {i: [r for r in range(len(ids)) if want_chunk[r] == i] or None for i in range(len(lowers))}
    assert got == want == {0: [0, 1, 2, 3, 4, 5], 1: [6, 7, 8], 2: None, 3: [9, 10]}


def test_ids_going_down_raise_where_the_stream_finds_them(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "STREAM_BATCH_ROWS", 3)
    path = _monthly_ids_file(tmp_path / "monthly.parquet", ["A1", "A2", "A3", "B1", "B2", "A9"])
    stream = engine._streamed_monthly(path, ["A1", "B1"])
    with pytest.raises(engine._Unordered, match="rows from 3"):
        list(stream)
