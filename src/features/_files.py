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
import datetime as dt
import errno
import fcntl
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tierwise.features._errors import OutputError


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
    `path` is left as it was. The parent folder is created when missing. An OS error while
    writing (no space, no permission, read-only, a size limit, a folder in the way) is one
    `OutputError` line naming the path (`write_failure`); the old file is kept.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder, not a file: give a file path (the folder is left as it is)")
    make_folder(path.parent)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise OutputError(write_failure(path, exc)) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        if durable:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(write_failure(path, exc)) from None
    finally:
        tmp.unlink(missing_ok=True)


def make_folder(folder: str | Path) -> Path:
    """`folder` and its parents, created when missing; an OS error (a file in the way, no
    permission, a read-only or full disk) is one line (`OutputError`)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {folder}: {_why(folder, folder.name, exc)}") from None
    return folder


def write_failure(path: Path, exc: OSError) -> str:
    """One line for an OS error while writing `path`: what happened and what to do; the
    previous file, if any, is untouched (`atomic_path` writes beside it)."""
    kept = f" ({path.name} as it was is kept)" if path.is_file() else ""
    return f"cannot write {path}: {_why(path.parent, path.name, exc)}{kept}"


def _why(folder: Path, name: str, exc: OSError) -> str:
    reasons = {
        errno.ENOSPC: f"no space left on the disk of {folder}: free space and rerun",
        errno.EDQUOT: f"the disk quota of {folder} is used up: free space and rerun",
        errno.EFBIG: f"{name} is larger than the file-size limit of this process (ulimit -f)",
        errno.EROFS: f"{folder} is on a read-only file system: write to another folder",
        errno.EACCES: f"no permission to write in {folder}: choose another folder or fix its permissions",
        errno.EPERM: f"no permission to write in {folder}: choose another folder or fix its permissions",
        errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
        errno.EEXIST: "a part of the path is a file, not a folder: choose another path",
        errno.EISDIR: f"{name} is a folder, not a file: give a file path",
    }
    return reasons.get(exc.errno, exc.strerror or str(exc))


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


# Output locks ------------------------------------------------------------------------------
#
# One run at a time per output: `output_lock(target)` takes an OS advisory lock (`fcntl.flock`)
# on `.<name>.lock` beside the target. The OS releases it when the holder ends, even under
# kill -9, so a lock file left behind never blocks: only a live holder does. The file records
# the holder (pid, host, start time) for the message a second run gets. Locks are re-entrant
# within a process (run-month holds the archive month while its scoring step takes it again).

_HELD: dict[Path, int] = {}


def lock_path(target: str | Path) -> Path:
    """The lock file of an output: `.<name>.lock` beside it."""
    target = Path(target)
    return target.with_name(f".{target.name}.lock")


@contextlib.contextmanager
def output_lock(target: str | Path, *, wait: float = 0.0, what: str | None = None) -> Iterator[Path]:
    """Hold the lock of `target` for the block; another holder means `OutputError` naming it
    (after waiting up to `wait` seconds for it to end). `what` names the output in the
    message (default: the target path)."""
    lock = lock_path(target).absolute()
    if lock in _HELD:
        _HELD[lock] += 1
        try:
            yield lock
        finally:
            _HELD[lock] -= 1
        return
    make_folder(lock.parent)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, file_mode())
    except OSError as exc:
        raise OutputError(write_failure(lock, exc)) from None
    try:
        _acquire(fd, lock, wait=wait, what=what or str(target))
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}).encode())
        _HELD[lock] = 1
        try:
            yield lock
        finally:
            del _HELD[lock]
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race a waiting run)


def _acquire(fd: int, lock: Path, *, wait: float, what: str) -> None:
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OutputError(f"{what} is being written by another tierwise run ({lock_holder(lock)}): "
                                  f"wait for it to end and rerun; nothing was written") from None
            time.sleep(0.1)


def lock_holder(lock: Path) -> str:
    """`pid 123 on host, started 2026-01-01 10:00:00 UTC`, as the holder wrote it."""
    try:
        info = json.loads(Path(lock).read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"holder not recorded in {lock}"
