"""Output locks: a second run on the same output refuses in one line naming the holder; a
killed holder's lock file does not block (two real processes)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tierwise.features import OutputError, lock_path, output_lock

HOLD = textwrap.dedent("""
    import sys, time
    from tierwise.features import output_lock
    with output_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def _holder(target: Path, seconds: float = 60.0) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(target), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_run_refuses_naming_the_holder_and_a_killed_holder_does_not_block(tmp_path):
    target = tmp_path / "out.parquet"
    target.write_bytes(b"previous")
    proc = _holder(target)
    try:
        with pytest.raises(OutputError) as caught, output_lock(target):
            pass
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"{target} is being written by another tierwise run (pid {proc.pid} on "
                                  f"{socket.gethostname()}, started ")
        assert message.endswith("wait for it to end and rerun; nothing was written")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert lock_path(target).is_file()  # the stale lock file is left ...
    with output_lock(target) as lock:  # ... and does not block
        assert lock == lock_path(target).absolute()
    assert target.read_bytes() == b"previous"


def test_wait_takes_the_lock_once_the_holder_ends(tmp_path):
    target = tmp_path / "out.parquet"
    proc = _holder(target, seconds=0.5)
    began = time.monotonic()
    with output_lock(target, wait=30):
        assert proc.poll() is not None or time.monotonic() - began >= 0.3
    proc.wait(timeout=10)


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    target = tmp_path / "archive-2024-01"
    with output_lock(target), output_lock(target):
        pass
    with output_lock(target):  # released after the outer block
        pass


def test_a_lock_beside_an_unwritable_folder_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot create the folder"), output_lock(tmp_path / "file" / "out.parquet"):
        pass
