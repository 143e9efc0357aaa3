"""Atomic file writes whose files get the mode the umask says.

Every file tierwise writes goes through `atomic_path`: the content is written to a temporary
file in the target's folder, which is renamed over the target (`os.replace`) only when the
write succeeded. Readers see the old file or the new one, never half of one; a failed write
leaves the old file and no temporary file.

`tempfile.mkstemp` creates its file with mode 0600 whatever the umask; left like that, every
output would be readable by its owner only. The temporary file is therefore given
`0o666 & ~umask` (what `open()` would have given) before the rename: 0644 under umask 022,
0600 under 077.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def current_umask() -> int:
    """The process umask, read without changing it (`Umask:` of /proc/self/status on Linux).

    Elsewhere it falls back to setting and restoring it, which another thread creating a
    file at that very moment could observe."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new regular file under the current umask (0o666 & ~umask)."""
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str = ".tmp", durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it becomes `path`, atomically.

    Write the content to the yielded path (any writer: Arrow, pandas, matplotlib; `suffix`
    sets its extension for writers that infer the format from it). When the block ends
    without an exception the file gets the umask's mode (`file_mode`), is flushed to disk
    when `durable`, and replaces `path`. On an exception the temporary file is removed and
    `path` is left as it was. The parent folder is created when missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        if durable:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes, *, durable: bool = False) -> Path:
    """`data` written to `path` through `atomic_path`; returns the path."""
    path = Path(path)
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data)
    return path


def write_text_atomic(path: str | Path, text: str, *, durable: bool = False) -> Path:
    """`text` written as UTF-8 (newlines as given) to `path` through `atomic_path`."""
    return write_bytes_atomic(path, text.encode("utf-8"), durable=durable)


def write_arrow_atomic(table: pa.Table | pd.DataFrame, path: str | Path) -> Path:
    """An Arrow table (or a frame, without its index) written as Parquet to `path` through
    `atomic_path`."""
    path = Path(path)
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path
