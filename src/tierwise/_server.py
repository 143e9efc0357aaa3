"""The lean recommender server: Starlette on uvicorn, orjson in and out (`tierwise serve`).

`create_app(config)` builds the ASGI app; the champion recommender is loaded from the registry
(trust check first: `registry.load_recommender` reads the MLmodel metadata before anything is
unpickled) in a background thread at start-up, so `GET /health` answers at once and
`GET /ready` says 200 once the model is loaded (503 before). `POST /invocations` takes MLflow's
`{"dataframe_records": [...]}` or `{"dataframe_split": {...}}`, a plain `{"clients": [...]}`,
a list of feature objects or one object, and answers `{"predictions": [...]}` with the same
fields as the MLflow pyfunc (`models.PYFUNC_OUTPUT_COLUMNS`), computed by the same code
(`models.pyfunc.check_request`, `Recommender.recommend`), without MLflow's per-column parsing
and schema enforcement.

Every malformed body is a 4xx with `{"error_code", "message"}`: over the size limit 413; not
JSON, nested deeper than `MAX_DEPTH`, no rows, more rows than the batch limit, a missing
field, a wrong type, a code the batch validation refuses, a non-finite number: 400 naming the
field. `Infinity` / `NaN` literals (not JSON, but what Python's json writes) are read so that
the answer can name their field.

`GET /clients/{id}` answers one client from the latest month's snapshot features, which the
monthly job keeps beside the archive (`archive.latest_snapshot`): the same answer as posting
that row, plus its `month`; an unknown client is 404, no snapshot 503.

`?next_tier=1` on either route adds a `next_tier` field to each answer (`_served_next_tier`:
what would move the client up a tier, verified on the served recommender); without it the
answer is unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from tierwise.features import FrozenConfig, TierwiseError

logger = logging.getLogger(__name__)

CONFIG_ENV = "TIERWISE_SERVE_CONFIG"
"""Where the uvicorn workers find their `ServeConfig` (JSON), set by `tierwise serve`."""
MAX_DEPTH = 16
"""A request is objects in a list in an object: anything nested deeper is refused."""


class ServeConfig(FrozenConfig):
    """What a server worker needs: the model and the request limits."""

    model_uri: str = "models:/tierwise-recommender@champion"
    max_body_bytes: int = 1_048_576
    max_batch: int = 100
    archive: str = "outputs/archive"
    """`GET /clients/{id}` reads the latest month's snapshot features kept beside it."""
    next_tier: dict[str, Any] | None = None
    """`?next_tier=1`: `configs/next_tier.yaml` as plain data (a `models.NextTierConfig`, parsed
    when first asked for: the worker starts without importing the models); None: refused."""


class BadRequest(TierwiseError):
    """A request the server refuses (4xx), with the status and the message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str, code: str = "INVALID_PARAMETER_VALUE") -> Response:
    return Response(orjson.dumps({"error_code": code, "message": message}), status_code=status,
                    media_type="application/json")


# --------------------------------------------------------------------------- parsing


def parse_body(body: bytes, *, max_batch: int) -> list[dict[str, Any]] | dict[str, Any]:
    """The feature rows of a request body: a list of objects (one per client), or MLflow's
    `dataframe_split` mapping; `BadRequest` for anything else."""
    if not body.strip():
        raise BadRequest("the body is empty; send JSON feature rows")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        doc = _lenient_json(body, exc)
    if _too_deep(doc):
        raise BadRequest(f"the JSON is nested deeper than {MAX_DEPTH} levels")
    rows = _rows_of(doc)
    n = len(rows["data"]) if isinstance(rows, dict) else len(rows)
    if n == 0:
        raise BadRequest("the request has no rows; send at least one client's feature row")
    if n > max_batch:
        raise BadRequest(f"the request has {n} rows; at most {max_batch} per request (batch work belongs "
                         "to `tierwise score`)", status=413)
    return rows


def _lenient_json(body: bytes, exc: Exception) -> Any:
    """Strict JSON failed: read `NaN` / `Infinity` literals (so the field can be named), refuse
    the rest (a too-deep nesting never reaches the recursive parser: orjson stops at 1024)."""
    if any(word in str(exc).lower() for word in ("recursion", "depth")):
        raise BadRequest(f"the JSON is nested deeper than {MAX_DEPTH} levels") from None
    if not any(word in body for word in (b"NaN", b"Infinity")):
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    try:
        return json.loads(body)
    except (ValueError, RecursionError, UnicodeDecodeError) as err:
        raise BadRequest(f"the body is not valid JSON: {err}") from None


def _too_deep(doc: Any, limit: int = MAX_DEPTH) -> bool:
    stack = [(doc, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return False


def _rows_of(doc: Any) -> list[dict[str, Any]] | dict[str, Any]:
    if isinstance(doc, dict):
        for key in ("dataframe_records", "clients", "instances"):
            if key in doc:
                doc = doc[key]
                break
        else:
            if "dataframe_split" in doc:
                return _split_of(doc["dataframe_split"])
            return [doc]  # one client's object
    if not isinstance(doc, list):
        raise BadRequest("the rows must be a list of objects, one per client")
    for i, row in enumerate(doc):
        if not isinstance(row, dict):
            raise BadRequest(f"row {i} is not an object of feature fields")
    return doc


def _split_of(split: Any) -> dict[str, Any]:
    if not (isinstance(split, dict) and isinstance(split.get("columns"), list)
            and isinstance(split.get("data"), list)):
        raise BadRequest("dataframe_split needs 'columns' and 'data' lists")
    columns = split["columns"]
    if not all(isinstance(c, str) for c in columns):
        raise BadRequest("dataframe_split 'columns' must be field names")
    for i, row in enumerate(split["data"]):
        if not isinstance(row, list) or len(row) != len(columns):
            raise BadRequest(f"dataframe_split row {i} must be a list of {len(columns)} values")
    return {"columns": columns, "data": split["data"]}


# --------------------------------------------------------------------------- answering


def answer_rows(recommender: Any, rows: list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, Any]]:
    """The pyfunc's answer for `rows` (`models.pyfunc.answer_records`: checked feature objects
    without pandas, anything else through a frame) as dicts; missing values NaN or None, both
    written as JSON null by orjson."""
    import pandas as pd
    from mlflow.exceptions import MlflowException

    from tierwise.models.pyfunc import answer_records

    rows = feature_records(rows)
    if isinstance(rows, dict):  # repeated columns: the frame path names them
        rows = pd.DataFrame(rows["data"], columns=rows["columns"])
    try:
        return answer_records(rows, recommender)
    except MlflowException as exc:
        raise BadRequest(exc.message) from None
    except TierwiseError as exc:
        raise BadRequest(str(exc)) from None
    except (TypeError, ValueError) as exc:  # a value pandas or the models cannot take
        raise BadRequest(f"a field has a value of the wrong kind: {exc}") from None


def feature_records(rows: list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, Any]] | dict[str, Any]:
    """`parse_body`'s rows as one object per client (a `dataframe_split` with unique columns
    becomes records; with repeated columns it stays as it is, for the frame path to refuse)."""
    if isinstance(rows, dict) and len(set(rows["columns"])) == len(rows["columns"]):
        return [dict(zip(rows["columns"], values, strict=True)) for values in rows["data"]]
    return rows


MAX_JOINED_ROWS = 64
"""At most this many clients of queued requests are answered together (`Batcher`)."""


class Batcher:
    """Requests that arrive while the worker is answering others are answered together.

    The work is CPU-bound and runs on the event loop, so requests queue while one is answered.
    `answer(rows)` queues a request's rows; once the loop is free, every queued request whose
    rows are plain feature objects with the same fields (`models.pyfunc.plain_rows`) goes
    through the recommender in one call (`tierwise.models.recommend_rows`, up to
    `MAX_JOINED_ROWS` rows), and each request gets its own rows' answers back. The answer of a
    row depends only on that row (the recommender is row-wise; `tests/tierwise/test_serving_rows.py`
    checks batches of 1, 7 and 50 give the same answers), so joining changes no answer, only the
    cost: one pass of the models, TreeSHAP, reasons and policy for many clients costs little more
    than for one. A request the joined path does not take, or a joined call that fails, is
    answered alone (`answer_rows`), which names any problem in that request only."""

    def __init__(self, recommender: Any, max_rows: int = MAX_JOINED_ROWS) -> None:
        self.recommender = recommender
        self.max_rows = max_rows
        self.pending: list[tuple[Any, Any]] = []
        self.scheduled = False

    async def answer(self, rows: list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, Any]]:
        import asyncio

        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((rows, future))
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self._run)  # after the handlers already ready have queued their rows
        return await future

    def _run(self) -> None:
        self.scheduled = False
        queued, self.pending = self.pending, []
        try:
            self._answer_all(queued)
        except Exception as exc:  # noqa: BLE001 - a bug: every waiting request gets it (a 500), none hangs
            for _, future in queued:
                if not future.done():
                    future.set_exception(exc)

    def _answer_all(self, queued: list[tuple[Any, Any]]) -> None:
        from tierwise.models import NotFast
        from tierwise.models.pyfunc import plain_rows

        alone, joinable = [], {}
        for rows, future in queued:
            if len(queued) == 1 or not isinstance(rows, list):
                alone.append((rows, future))
                continue
            try:
                plain_rows(rows, self.recommender)
            except (NotFast, TierwiseError):
                alone.append((rows, future))
                continue
            joinable.setdefault(tuple(rows[0]), []).append((rows, future))
        for group in joinable.values():
            while group:
                part, size = [], 0
                while group and (not part or size + len(group[0][0]) <= self.max_rows):
                    part.append(group.pop(0))
                    size += len(part[-1][0])
                alone += self._answer_joined(part)
        for rows, future in alone:
            try:
                future.set_result(answer_rows(self.recommender, rows))
            except BadRequest as exc:
                future.set_exception(exc)

    def _answer_joined(self, part: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
        """Answer `part` in one call; returns the requests to answer alone (all, if it fails)."""
        from tierwise.models import NotFast, recommend_rows

        if len(part) == 1:
            return part
        try:
            answers = recommend_rows(self.recommender, [row for rows, _ in part for row in rows])
        except (NotFast, TierwiseError):
            return part
        start = 0
        for rows, future in part:
            future.set_result(answers[start:start + len(rows)])
            start += len(rows)
        return []


class _State:
    """The loaded recommender (None until loaded), the load error if any, and the snapshot
    features last read (by file and modification time)."""

    def __init__(self) -> None:
        self.recommender: Any = None
        self.batcher: Batcher | None = None
        self.settings: Any = None  # settings.RecommenderSettings it was built with
        self.next_tier: Any = None  # _served_next_tier's search of the latest snapshot
        self.version: str | None = None
        self.error: str | None = None
        self.snapshot: tuple[tuple[str, int], dict[str, dict[str, Any]]] | None = None


def snapshot_rows(state: _State, archive: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """(month folder, client id -> feature row) of the latest snapshot; `BadRequest` 503 when
    the monthly job has written none. Re-read when the file changes (a new month)."""
    import pyarrow.parquet as pq

    from tierwise.archive import latest_snapshot, snapshot_dir

    path = latest_snapshot(Path(archive))
    if path is None:
        raise BadRequest(f"no snapshot features in {snapshot_dir(Path(archive))}; run `tierwise run-month` "
                         "to keep the latest month's features beside the archive", status=503)
    key = (str(path), path.stat().st_mtime_ns)
    if state.snapshot is None or state.snapshot[0] != key:
        records = pq.read_table(path).to_pylist()
        state.snapshot = key, {str(r["client_id"]): r for r in records}
    return path.parent.name.removeprefix("month=")[:7], state.snapshot[1]


def _with_next_tier(state: _State, config: ServeConfig, rows: Any, predictions: list[dict[str, Any]], *,
                    archived: bool = False) -> list[dict[str, Any]]:
    """`?next_tier=1`: each prediction with its `next_tier` field (`_served_next_tier`)."""
    from tierwise._served_next_tier import add_next_tier

    snapshot = snapshot_rows(state, config.archive)  # the month's ranges; none: 503
    try:
        return add_next_tier(state, config, rows, predictions, snapshot=snapshot, archived=archived)
    except TierwiseError as exc:
        raise BadRequest(str(exc)) from None


def _load(state: _State, config: ServeConfig) -> None:
    from tierwise import registry

    try:
        loaded = registry.load_recommender(config.model_uri)
    except TierwiseError as exc:
        state.error = str(exc)
        logger.error("cannot serve %s: %s", config.model_uri, exc)
        return
    state.batcher = Batcher(loaded.recommender)
    state.recommender, state.version, state.settings = loaded.recommender, loaded.version, loaded.settings
    logger.info("serving %s (version %s)", config.model_uri, loaded.version)


async def _read_body(scope: dict[str, Any], receive: Any, limit: int) -> bytes:
    """The request body from the ASGI messages; `BadRequest` 413 over `limit` (declared or
    read), `ClientDisconnect` when the client goes away first."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise BadRequest(f"the body is {int(value):,} bytes; at most {limit:,}", status=413)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"the body is over {limit:,} bytes", status=413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def create_app(config: ServeConfig | None = None, *, load_in_background: bool = True) -> Any:
    """The ASGI app serving `config.model_uri` (default: the `ServeConfig` in `CONFIG_ENV`)."""
    from tierwise._served_next_tier import wanted

    if config is None:
        config = ServeConfig.model_validate_json(os.environ.get(CONFIG_ENV, "{}"))
    state = _State()

    async def health(request: Request) -> Response:
        return Response(b'{"status":"alive"}', media_type="application/json")

    async def ready(request: Request) -> Response:
        if state.recommender is None:
            message = state.error or "the model is still loading"
            return _error(503, message, "NOT_READY")
        return Response(orjson.dumps({"status": "ready", "model": config.model_uri, "version": state.version}),
                        media_type="application/json")

    async def answer(scope: dict[str, Any], receive: Any, query: Any) -> Response:
        if state.recommender is None:
            return _error(503, state.error or "the model is still loading; retry when GET /ready is 200",
                          "NOT_READY")
        try:
            body = await _read_body(scope, receive, config.max_body_bytes)
            rows = feature_records(parse_body(body, max_batch=config.max_batch))
            # CPU-bound and short: run on the event loop (a thread hop costs more than it saves),
            # together with the requests queued meanwhile
            predictions = await state.batcher.answer(rows)
            if query and wanted(query):
                predictions = _with_next_tier(state, config, rows, predictions)
        except BadRequest as exc:
            return _error(exc.status, str(exc))
        except ClientDisconnect:
            return Response(status_code=400)
        return Response(orjson.dumps({"predictions": predictions}), media_type="application/json")

    async def invocations(request: Request) -> Response:
        return await answer(request.scope, request.receive, request.query_params)

    async def client(request: Request) -> Response:
        if state.recommender is None:
            return _error(503, state.error or "the model is still loading; retry when GET /ready is 200",
                          "NOT_READY")
        client_id = request.path_params["client_id"]
        try:
            month, rows = snapshot_rows(state, config.archive)
            row = rows.get(client_id)
            if row is None:
                return _error(404, f"client {client_id!r} is not in the {month} snapshot", "RESOURCE_DOES_NOT_EXIST")
            answer = answer_rows(state.recommender, [row])[0]
            if request.query_params and wanted(request.query_params):
                answer = _with_next_tier(state, config, [row], [answer], archived=True)[0]
        except BadRequest as exc:
            return _error(exc.status, str(exc), "NOT_READY" if exc.status == 503 else "INVALID_PARAMETER_VALUE")
        return Response(orjson.dumps({"month": month, **answer}), media_type="application/json")

    def startup() -> None:
        if load_in_background:
            threading.Thread(target=_load, args=(state, config), name="load-model", daemon=True).start()
        else:
            _load(state, config)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette):
        startup()
        yield

    routes = [Route("/health", health, methods=["GET"]), Route("/ping", health, methods=["GET"]),
              Route("/ready", ready, methods=["GET"]), Route("/invocations", invocations, methods=["POST"]),
              Route("/clients/{client_id}", client, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=lifespan)

    async def served(scope: dict[str, Any], receive: Any, send: Any) -> None:
        """A plain `POST /invocations` straight to `answer`, without Starlette's routing and
        middleware (the same answer, less work per request); everything else, `?next_tier=1`
        included, through the app."""
        if (scope["type"] == "http" and scope["path"] == "/invocations" and scope["method"] == "POST"
                and not scope.get("query_string")):
            response = await answer(scope, receive, None)
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    return served


def app_from_env() -> Any:
    """uvicorn's factory for the worker processes (`tierwise serve --workers N`)."""
    return create_app()
