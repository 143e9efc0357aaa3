"""A client's trail through the archive as display texts (what `tierwise history` prints)."""

from __future__ import annotations

import pytest
from reports_factory import SMALL_REVIEW_ZH, write_small_archive

from tierwise.archive import read_archive
from tierwise.features import DataError
from tierwise.reports import client_trail, trail_headers
from tierwise.reports._trail import TRAIL_FIELDS


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    archive, _, _ = write_small_archive(tmp_path_factory.mktemp("trail"))
    return read_archive(archive, clients=["C00000"])


def test_trail_is_one_entry_per_month_oldest_first(rows):
    trail = client_trail(rows.iloc[::-1], "en")
    assert [t["month"] for t in trail] == ["2024-01", "2024-02", "2024-03"]
    assert [t["tier"] for t in trail] == ["Premier", "Excellence", "Potential"]
    assert all(tuple(t) == TRAIL_FIELDS for t in trail)
    assert trail[0]["flags"] == "—" and trail[1]["flags"] == "Risk watch, Exit review"
    assert trail[0]["p_default"] == "—"  # no credit exposure: no PD
    assert trail[1]["exit_review"] == "Exit review opened"
    assert trail[2]["reason_churn"] == rows.loc[rows["month"].idxmax(), "reason_churn_1_en"]


def test_trail_in_chinese(rows):
    trail = client_trail(rows, "zh")
    assert [t["tier"] for t in trail] == ["尊享", "卓越", "潜力"]
    assert trail[2]["channel"] == "网点" and trail[2]["exit_review"] == f"退出评审后降级：{SMALL_REVIEW_ZH}"
    assert set(trail_headers("zh")) == set(TRAIL_FIELDS) and trail_headers("zh")["tier"] == "层级"
    with pytest.raises(DataError, match="language 'fr' is not supported"):
        client_trail(rows, "fr")
