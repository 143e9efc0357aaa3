"""`tierwise serve`: the champion recommender over HTTP on loopback.

By default the lean server (`tierwise._server`: Starlette on uvicorn, orjson, `--workers N`
processes); `serve(..., mlflow=True)` runs MLflow's own scoring server instead
([serving.md](../../docs/serving.md) says when to use which). Either way SIGTERM and SIGINT
stop the server and all its workers.

For MLflow's server, `serve_command` builds `mlflow models serve -m <uri> --env-manager local --host H --port P`
(never a virtualenv or conda env: nothing is downloaded at run time); `serve` runs it with the
tracking store in the environment so that a `models:/` URI resolves. Requests are MLflow's
JSON (`{"dataframe_records": [{feature: value, ...}]}`); the recommender's `predict` turns a
missing field, a wrong type or an empty request into HTTP 400 with the problem named.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tierwise import registry, tracking
from tierwise.features import TierwiseError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "models:/tierwise-recommender@champion"
WORKER_HEALTHCHECK_SECONDS = 60


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def serve_command(model_uri: str = DEFAULT_MODEL, *, host: str = "127.0.0.1", port: int = 5000,
                  workers: int = 1, timeout: int = 60) -> list[str]:
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    head = [str(mlflow_cli)] if mlflow_cli.is_file() else [sys.executable, "-m", "mlflow"]
    return [*head, "models", "serve", "-m", model_uri, "--env-manager", "local", "--host", host,
            "--port", str(port), "--workers", str(workers), "--timeout", str(timeout)]


def lean_command(model_uri: str = DEFAULT_MODEL, *, host: str = "127.0.0.1", port: int = 5000,
                 workers: int = 1, archive: Path | None = None) -> list[str]:
    """`tierwise serve` (the lean server) as a command line."""
    cli = Path(sys.executable).with_name("tierwise")
    head = [str(cli)] if cli.is_file() else [sys.executable, "-m", "tierwise"]
    tail = ["--archive", str(archive)] if archive is not None else []
    return [*head, "serve", "--model", model_uri, "--host", host, "--port", str(port), "--workers", str(workers),
            *tail]


def serve_env(n_threads: int | None = None) -> dict[str, str]:
    """The server's environment: this tracking store and registry; optional thread caps."""
    env = dict(os.environ)
    # MLflow starts `uvicorn` from the PATH: make it this environment's
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, *[p for p in env.get("PATH", "").split(os.pathsep) if p != bin_dir]])
    env["MLFLOW_TRACKING_URI"] = tracking.tracking_uri()
    env.setdefault("MLFLOW_REGISTRY_URI", env["MLFLOW_TRACKING_URI"])
    if n_threads is not None:
        for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
            env[name] = str(n_threads)
    # A request is one client or a few: the TreeSHAP kernel runs them on one thread anyway, and
    # launching its parallel region from the server's concurrent worker threads costs more than
    # it saves (measured: 20 concurrent single-client calls, 42 -> 36 ms each). Override by
    # setting NUMBA_NUM_THREADS (or n_threads) for a server that scores large batches.
    env.setdefault("NUMBA_NUM_THREADS", "1")
    return env


def start_server(model_uri: str = DEFAULT_MODEL, *, host: str = "127.0.0.1", port: int | None = None,
                 workers: int = 1, n_threads: int | None = None, log_file: Path | None = None,
                 lean: bool = False, archive: Path | None = None) -> tuple[subprocess.Popen, int]:
    """Start MLflow's server (or, with `lean`, `tierwise serve`) in the background, in its own
    process group; returns the process and its port."""
    tracking.connect()
    port = port or free_port(host)
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    command = (lean_command(model_uri, host=host, port=port, workers=workers, archive=archive) if lean
               else serve_command(model_uri, host=host, port=port, workers=workers))
    proc = subprocess.Popen(command,
                            env=serve_env(n_threads), stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, port


def wait_until_ready(proc: subprocess.Popen, port: int, *, host: str = "127.0.0.1", seconds: float = 180.0,
                     path: str = "/ping") -> None:
    """Block until the server started by `start_server` answers `GET path` with 200 (the lean
    server: `/ready`); a server that exits, or does not answer within `seconds`, is a
    `TierwiseError`."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise TierwiseError(f"the model server exited with code {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TierwiseError(f"the model server did not answer {path} within {seconds:.0f} s") from None
            time.sleep(0.5)


def check_model(model_uri: str) -> None:
    """A one-line `TierwiseError` unless `model_uri` names a tierwise recommender (an alias that
    exists; the MLmodel metadata read, nothing unpickled)."""
    client = tracking.connect()
    if model_uri.startswith("models:/") and "@" in model_uri:
        name, alias = model_uri.removeprefix("models:/").split("@", 1)
        if registry.alias_version(client, name, alias) is None:
            raise TierwiseError(f"{model_uri}: no version of {name} has the alias '{alias}'; "
                                "build one with `tierwise recommend`")
    registry.check_is_recommender(model_uri)


def default_workers() -> int:
    """One worker process per core this process may run on: a request is CPU-bound work of about
    a millisecond, so more workers than cores only queue (2 on a 2-core machine)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _fast_loop() -> dict[str, str]:
    """uvicorn's C HTTP parser and event loop when installed (they are dependencies), else its
    pure-Python ones."""
    import importlib.util

    return {"http": "httptools" if importlib.util.find_spec("httptools") else "h11",
            "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"}


def serve(model_uri: str = DEFAULT_MODEL, *, host: str = "127.0.0.1", port: int = 5000, workers: int | None = None,
          mlflow: bool = False, max_body_bytes: int = 1_048_576, max_batch: int = 100,
          archive: Path = Path("outputs/archive"), next_tier: Any = None) -> int:
    """Run the server in the foreground until it stops (SIGTERM, SIGINT); returns its exit code.
    `workers`: default one per available core (`default_workers`). `next_tier`: the
    `models.NextTierConfig` of the answers' optional `next_tier` field (None: the field is
    refused)."""
    check_model(model_uri)
    workers = default_workers() if workers is None else workers
    if mlflow:
        return _serve_mlflow(model_uri, host=host, port=port, workers=workers)
    import uvicorn

    from tierwise._server import CONFIG_ENV, ServeConfig

    for key, value in serve_env().items():  # the workers' environment: tracking store, one SHAP thread
        os.environ.setdefault(key, value)
    config = ServeConfig(model_uri=model_uri, max_body_bytes=max_body_bytes, max_batch=max_batch,
                         archive=str(Path(archive).resolve()),
                         next_tier=None if next_tier is None else next_tier.model_dump(mode="json"))
    os.environ[CONFIG_ENV] = config.model_dump_json()
    logger.info("serving %s on http://%s:%d with %d worker(s)", model_uri, host, port, workers)
    uvicorn.run("tierwise._server:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, timeout_graceful_shutdown=5, lifespan="on", **_fast_loop(),
                # a worker compiling the numba kernels or unpickling the models holds the GIL for
                # seconds: uvicorn's default 5 s health check would kill and restart it in a loop
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)
    return 0


def _serve_mlflow(model_uri: str, *, host: str, port: int, workers: int) -> int:
    """MLflow's server in its own process group; SIGTERM / SIGINT to this process stop the
    whole group (MLflow's launcher, uvicorn and its workers)."""
    command = serve_command(model_uri, host=host, port=port, workers=workers)
    logger.info("starting: %s", " ".join(command))
    proc = subprocess.Popen(command, env=serve_env(), start_new_session=True)

    def stop(signum: int, frame: object) -> None:
        _stop_group(proc)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_group(proc)
    return 130 if code < 0 else code


def _stop_group(proc: subprocess.Popen, seconds: float = 5.0) -> None:
    """SIGTERM to the process group of `proc`, SIGKILL after `seconds`."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
