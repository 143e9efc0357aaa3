"""Resume checks what it resumes (issue 18, item 4): the manifest records each part's rows and
SHA-256; a missing, truncated, corrupted or altered part is recomputed with a warning naming it."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
from test_pandas_engine import _score

from tierwise.scoring import parts_path
from tierwise.scoring._checkpoint import MANIFEST, PartStore, file_fingerprint_bytes

KEY = {"fingerprint": "abc", "chunk_clients": 2}


def _store_with_parts(folder) -> PartStore:
    store = PartStore(folder, KEY)
    for index in range(3):
        store.write(index, (f"C{index}", f"C{index + 1}"), pd.DataFrame({"x": range(index + 1)}))
    return store


def test_the_manifest_records_rows_and_checksum(tmp_path):
    store = _store_with_parts(tmp_path / "parts")
    body = json.loads((store.folder / MANIFEST).read_text())
    for entry in body["chunks"]:
        assert entry["rows"] == entry["index"] + 1
        assert entry["sha256"] == file_fingerprint_bytes(store.folder / entry["file"])
    assert sorted(PartStore(tmp_path / "parts", KEY).done) == [0, 1, 2]  # intact parts are resumed


@pytest.mark.parametrize(("damage", "why"), [
    (lambda p: p.unlink(), "its file is missing"),
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "checksum differs"),
    (lambda p: p.write_bytes(b"PAR1 not parquet PAR1"), "checksum differs"),
])
def test_a_damaged_part_is_recomputed_with_a_warning(tmp_path, caplog, damage, why):
    store = _store_with_parts(tmp_path / "parts")
    damage(store.folder / "part-000001.parquet")
    with caplog.at_level(logging.WARNING, logger="tierwise.scoring._checkpoint"):
        again = PartStore(tmp_path / "parts", KEY)
    assert sorted(again.done) == [0, 2]
    assert not again.is_done(1, ("C1", "C2"))
    assert "part-000001.parquet" in caplog.text and why in caplog.text


def test_a_row_count_that_differs_from_the_manifest_is_recomputed(tmp_path, caplog):
    store = _store_with_parts(tmp_path / "parts")
    manifest = store.folder / MANIFEST
    body = json.loads(manifest.read_text())
    body["chunks"][2]["rows"] = 99
    manifest.write_text(json.dumps(body))
    with caplog.at_level(logging.WARNING, logger="tierwise.scoring._checkpoint"):
        again = PartStore(tmp_path / "parts", KEY)
    assert sorted(again.done) == [0, 1]
    assert "holds 3 rows, the manifest says 99" in caplog.text


def test_scoring_resumes_past_a_corrupted_part_and_gives_the_same_output(world, tmp_path, caplog):
    reference = tmp_path / "reference.parquet"
    _score(world, reference, chunk=60)
    out = tmp_path / "recs.parquet"
    first = _score(world, out, chunk=60, keep_parts=True)
    part = parts_path(out) / "part-000001.parquet"
    part.write_bytes(part.read_bytes()[:100])  # truncated, as a full disk or a crash leaves it
    out.unlink()
    with caplog.at_level(logging.WARNING):
        second = _score(world, out, chunk=60)
    assert second.resumed_chunks == first.chunks - 1
    assert "part-000001.parquet" in caplog.text
    assert out.read_bytes() == reference.read_bytes()
