"""Atomic writes: the umask decides the mode, a failed write leaves the old file and no temp file."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tierwise.features import (
    OutputError,
    atomic_path,
    current_umask,
    file_mode,
    write_arrow_atomic,
    write_bytes_atomic,
    write_table,
    write_text_atomic,
)


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_umask_mode(tmp_path, umask, mask, expected):
    umask(mask)
    assert current_umask() == mask
    assert file_mode() == expected
    written = [
        write_text_atomic(tmp_path / "a.txt", "hello"),
        write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01", durable=True),
        write_arrow_atomic(pa.table({"x": [1, 2]}), tmp_path / "c.parquet"),
        write_arrow_atomic(pd.DataFrame({"x": [1, 2]}), tmp_path / "d.parquet"),
    ]
    write_table(pd.DataFrame({"x": [1]}), tmp_path / "e.parquet")
    written.append(tmp_path / "e.parquet")
    for path in written:
        assert _mode(path) == expected, path.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "c.parquet", "d.parquet", "e.parquet"]
    assert pq.read_table(tmp_path / "d.parquet").column_names == ["x"]  # no index column


def test_overwriting_keeps_the_umask_mode_not_the_old_one(tmp_path, umask):
    target = tmp_path / "a.txt"
    umask(0o077)
    write_text_atomic(target, "one")
    umask(0o022)
    write_text_atomic(target, "two")
    assert target.read_text() == "two"
    assert _mode(target) == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "table.parquet"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError, match="disk on fire"), atomic_path(target) as tmp:
        tmp.write_text("half of the new one")
        raise RuntimeError("disk on fire")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]


def test_a_failed_arrow_write_leaves_no_temp_file(tmp_path):
    with pytest.raises((TypeError, AttributeError, pa.ArrowException)):
        write_arrow_atomic(object(), tmp_path / "x.parquet")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_temp_path_is_beside_the_target_with_the_suffix_asked_for(tmp_path):
    with atomic_path(tmp_path / "sub" / "plot.png", suffix=".png") as tmp:
        assert tmp.parent == tmp_path / "sub"  # folder created
        assert tmp.name.startswith(".plot.png.") and tmp.suffix == ".png"
        tmp.write_bytes(b"png")
    assert (tmp_path / "sub" / "plot.png").read_bytes() == b"png"


def test_an_output_that_is_a_folder_is_one_line_and_the_folder_stays(tmp_path):
    folder = tmp_path / "out"
    (folder / "kept.txt").parent.mkdir()
    (folder / "kept.txt").write_text("x")
    with pytest.raises(OutputError, match=r"out is a folder, not a file: give a file path"):
        write_text_atomic(folder, "new")
    assert (folder / "kept.txt").read_text() == "x"


def test_a_parent_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"^cannot create the folder .*/file: a part of the path is a file"):
        write_text_atomic(tmp_path / "file" / "report.html", "new")


def test_a_file_size_limit_is_one_line_and_the_previous_output_is_kept(tmp_path):
    import resource

    target = tmp_path / "big.bin"
    target.write_bytes(b"old")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))  # Python ignores SIGXFSZ: the write gets EFBIG
    try:
        with pytest.raises(OutputError, match=r"larger than the file-size limit .*ulimit -f.*big.bin as it was is kept"):
            write_bytes_atomic(target, b"x" * 100_000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]  # no temporary file left
