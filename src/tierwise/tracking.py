"""MLflow tracking: where the store lives, checking that it answers, one experiment per job.
Registered models (names, aliases, versions, tags, loading) are `tierwise.registry`'s.

Embedded default: tracking store `sqlite:///mlflow.db` and artifacts in `mlartifacts/`, both
in the working directory. `MLFLOW_TRACKING_URI` overrides (a server, Databricks), and
`MLFLOW_ARTIFACTS_DESTINATION` overrides the artifact folder of new experiments on a local
store. An unreachable store is one clear line, not a traceback.
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from tierwise.features import TierwiseError

logger = logging.getLogger(__name__)

class TrackingError(TierwiseError):
    """The MLflow tracking store or registry cannot be used."""

    exit_code = 3


def tracking_uri() -> str:
    """`$MLFLOW_TRACKING_URI`, else `sqlite:///<cwd>/mlflow.db`."""
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return env or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def _is_local(uri: str) -> bool:
    scheme = urlparse(uri).scheme
    return scheme in ("sqlite", "file", "") or (len(scheme) == 1)  # "" or a Windows drive


def artifact_location() -> str | None:
    """Artifact root for new experiments on a local store (None: let the server decide)."""
    if not _is_local(tracking_uri()):
        return None
    env = os.environ.get("MLFLOW_ARTIFACTS_DESTINATION", "").strip()
    folder = Path(env) if env else Path.cwd() / "mlartifacts"
    return folder.resolve().as_uri()


def connect():  # noqa: ANN201 - mlflow.MlflowClient
    """Point MLflow at the tracking store and check that it answers; return a client."""
    import mlflow
    from mlflow import MlflowClient

    uri = tracking_uri()
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":
        path = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
        if path is not None and not path.parent.is_dir():
            raise TrackingError(f"MLflow tracking URI {uri}: folder {path.parent} does not exist")
    elif parsed.scheme in ("http", "https"):
        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5).close()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TrackingError(f"MLflow tracking URI {uri} is unreachable: {reason}") from None
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - any failure here means the store is unusable
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TrackingError(f"MLflow tracking URI {uri} cannot be used: {first}") from None
    return client


def experiment_id(client, name: str) -> str:  # noqa: ANN001
    """The experiment `name`, created (with the local artifact folder) when missing."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location())
