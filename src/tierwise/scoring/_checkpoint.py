"""Resumable batch work: per-chunk part files and a manifest in `<out>.parts/`.

The manifest is keyed by the job key (input fingerprint, month, model version, engine and
chunk size): a folder left by a job with another key is cleared before starting. A chunk
counts as done only once its part file is written (atomically) AND listed in the manifest
(rewritten atomically after each part), so a job killed at any instant, even with SIGKILL,
resumes from the chunks it had finished and recomputes the rest.

The manifest records each part's row count and the SHA-256 of its file. On resume a part is
verified before it is trusted: a part whose file is missing, truncated, corrupted or differs
from the manifest (checksum or row count) is logged as a warning naming it and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tierwise.features import write_arrow_atomic, write_bytes_atomic

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def file_fingerprint(paths: Iterable[Path], *extra: str) -> str:
    """SHA-256 over the bytes of `paths` (in order, with their names) and `extra` strings."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    for item in extra:
        digest.update(b"\0" + str(item).encode())
    return digest.hexdigest()


def file_fingerprint_bytes(path: Path) -> str:
    """SHA-256 of one file's bytes (a part's checksum in the manifest)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


class PartStore:
    """The `<out>.parts/` folder of one job (see the module docstring)."""

    def __init__(self, folder: Path, key: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.key = {k: str(v) for k, v in key.items()}
        self.done: dict[int, dict[str, Any]] = {}
        self._open()

    def _open(self) -> None:
        manifest = self.folder / MANIFEST
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            if data.get("key") == self.key:
                self.done = {int(c["index"]): c for c in data.get("chunks", []) if self._intact(c)}
                logger.info("resuming: %d chunk(s) already done in %s", len(self.done), self.folder)
                return
            logger.info("%s holds parts of another job (inputs, model or chunking differ): clearing it",
                        self.folder)
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        self._save()

    def _intact(self, entry: dict[str, Any]) -> bool:
        """Whether a listed part can be resumed from: its file is there, its bytes have the
        recorded checksum and Parquet reads the recorded number of rows; else a warning."""
        path = self.folder / str(entry.get("file", ""))
        problem = None
        if not path.is_file():
            problem = "its file is missing"
        elif "sha256" not in entry or "rows" not in entry:
            problem = "the manifest records no checksum for it"
        elif file_fingerprint_bytes(path) != entry["sha256"]:
            problem = "its checksum differs from the manifest (truncated or corrupted)"
        else:
            try:
                rows = pq.ParquetFile(path).metadata.num_rows
            except (OSError, pa.ArrowException) as exc:
                rows, problem = None, f"it cannot be read ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
            if problem is None and rows != int(entry["rows"]):
                problem = f"it holds {rows} rows, the manifest says {entry['rows']}"
        if problem is None:
            return True
        logger.warning("part %s of %s is not resumed: %s; recomputing chunk %s",
                       path.name, self.folder, problem, entry.get("index"))
        return False

    def _save(self) -> None:
        body = {"key": self.key, "chunks": [self.done[i] for i in sorted(self.done)]}
        write_bytes_atomic(self.folder / MANIFEST, json.dumps(body, indent=1).encode(), durable=True)

    def is_done(self, index: int, bounds: tuple[str, str]) -> bool:
        entry = self.done.get(index)
        return entry is not None and (entry["first"], entry["last"]) == tuple(bounds)

    def write(self, index: int, bounds: tuple[str, str], frame: pd.DataFrame | pa.Table, *,
              source: str | None = None) -> None:
        """Write chunk `index`'s part and list it as done; `source`: how its input was read
        (kept in the manifest for `forget`)."""
        name = f"part-{index:06d}.parquet"
        write_arrow_atomic(frame, self.folder / name)
        self.done[index] = {"index": index, "first": bounds[0], "last": bounds[1], "file": name,
                            "rows": int(frame.num_rows if isinstance(frame, pa.Table) else len(frame)),
                            "sha256": file_fingerprint_bytes(self.folder / name),
                            **({"source": source} if source is not None else {})}
        self._save()

    def forget(self, indices: Iterable[int]) -> None:
        """No longer count chunks `indices` as done (their parts are recomputed and overwritten)."""
        for index in list(indices):
            self.done.pop(index, None)
        self._save()

    def files(self) -> list[Path]:
        return [self.folder / self.done[i]["file"] for i in sorted(self.done)]

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
