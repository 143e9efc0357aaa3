"""The MLflow model registry, read and written in one place: model names, aliases, versions,
version tags, and loading registered models (task models and the recommender).

`tracking` says where the store is (`tracking.connect()`); everything about registered models
goes through here, so that training, promotion, governance, explanation, scoring and serving
agree on names and aliases and give the same one-line errors.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tierwise import tracking
from tierwise.features import DataError

if TYPE_CHECKING:
    from tierwise.models import TierwiseModel
    from tierwise.settings import RecommenderSettings

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
RECOMMENDER = "tierwise-recommender"
SETTINGS_ARTIFACT = "settings.json"  # the recommender's settings, logged to its run and inside the model


# ============================================================================ names and aliases
def registered_name(task_or_dataset: str) -> str:
    return f"tierwise-{task_or_dataset}"


def model_uri(name: str, alias: str) -> str:
    return f"models:/{name}@{alias}"


def version_uri(name: str, version: str) -> str:
    return f"models:/{name}/{version}"


def alias_version(client: Any, name: str, alias: str) -> str | None:
    """The version that `alias` points to, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def alias_versions(client: Any, alias: str = CHAMPION) -> dict[str, str]:
    """Task -> the version of `tierwise-<task>` that `alias` points to, for the tasks that
    have one (in `TASKS` order; empty when none has)."""
    from tierwise.features import TASKS

    found = {task: alias_version(client, registered_name(task), alias) for task in TASKS}
    return {task: version for task, version in found.items() if version is not None}


def product_versions(client: Any, alias: str = CHAMPION) -> dict[str, str]:
    """Product family -> the version of `tierwise-adopt_<product>` that `alias` points to, for
    the families that have one (in `PRODUCTS` order; empty when none has)."""
    from tierwise.features import PRODUCTS, product_task

    found = {p: alias_version(client, registered_name(product_task(p)), alias) for p in PRODUCTS}
    return {p: version for p, version in found.items() if version is not None}


def task_models(client: Any) -> list[str]:
    """The tasks with at least one registered version, in `TASKS` order."""
    from tierwise.features import TASKS

    return [task for task in TASKS if all_versions(client, registered_name(task))]


def set_alias(client: Any, name: str, alias: str, version: str) -> None:
    client.set_registered_model_alias(name, alias, version)


def mark_new_version(client: Any, name: str, version: str, *, champion: bool | None = None) -> bool:
    """A newly registered version becomes `challenger`; also `champion` when `champion` is
    True, or (None) when no version is champion yet. Returns whether it became champion."""
    set_alias(client, name, CHALLENGER, version)
    if champion is None:
        champion = alias_version(client, name, CHAMPION) is None
    if champion:
        set_alias(client, name, CHAMPION, version)
    return champion


def require_model(client: Any, name: str) -> None:
    """A one-line DataError naming the registered models when `name` is not one of them."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        known = sorted(m.name for m in client.search_registered_models())
        raise DataError(f"{name}: no registered model of that name"
                        + (f" (registered: {', '.join(known)})" if known else " (the registry is empty)")) from None


def all_versions(client: Any, name: str) -> list[str]:
    versions = client.search_model_versions(f"name='{name}'")
    return sorted((str(v.version) for v in versions), key=int)


def registered_version(client: Any, name: str, *, version: str | None = None, alias: str | None = None) -> str:
    """The version number for `--version` or `--alias` (default: the champion); one-line errors."""
    from mlflow.exceptions import MlflowException

    require_model(client, name)
    if version is not None:
        try:
            return str(client.get_model_version(name, str(version)).version)
        except MlflowException:
            raise DataError(f"{name}: no version {version} (versions: {', '.join(all_versions(client, name))})") from None
    alias = alias or CHAMPION
    found = alias_version(client, name, alias)
    if found is None:
        raise DataError(f"{name}: no version has the alias '{alias}'")
    return found


def champion_or_latest(client: Any, name: str) -> str:
    """The champion's version, else the latest version (logged); a one-line error when none."""
    version = alias_version(client, name, CHAMPION)
    if version is not None:
        return version
    versions = all_versions(client, name)
    if not versions:
        raise DataError(f"no registered model '{name}' in {tracking.tracking_uri()}; "
                        "train one first: tierwise train --task all")
    logger.info("%s: no champion alias, using the latest version %s", name, versions[-1])
    return versions[-1]


def version_of(client: Any, uri: str) -> str:
    """`models:/name@alias` or `models:/name/3` -> "3"; anything else -> the URI itself."""
    if not uri.startswith("models:/"):
        return uri
    body = uri.removeprefix("models:/")
    if "@" in body:
        name, alias = body.split("@", 1)
        version = alias_version(client, name, alias)
        if version is None:
            raise DataError(f"model {uri}: no version of {name} has the alias '{alias}'")
        return version
    return body.rsplit("/", 1)[-1]


# ============================================================================ versions and tags
def model_version(client: Any, name: str, version: str) -> Any:
    return client.get_model_version(name, str(version))


def find_version(client: Any, name: str, version: str) -> Any | None:
    """The model version, or None when it is not registered (e.g. deleted)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException:
        return None


def version_tags(mv: Any) -> dict[str, str]:
    return dict(mv.tags or {}) if mv is not None else {}


def set_version_tags(client: Any, name: str, version: str, tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, value)


# ============================================================================ run artifacts
@contextlib.contextmanager
def quiet_downloads() -> Iterator[None]:
    """No tqdm bars from MLflow's artifact downloads on the user's terminal."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


class RunFiles:
    """Lazy downloads of a run's artifacts into one temporary folder."""

    def __init__(self, client: Any, run_id: str, folder: Path) -> None:
        self.client, self.run_id, self.folder = client, run_id, folder
        self._listed: set[str] | None = None

    def has(self, path: str) -> bool:
        if self._listed is None:
            self._listed = {a.path for a in self.client.list_artifacts(self.run_id)}
        return path in self._listed

    def path(self, path: str) -> Path | None:
        if not self.has(path):
            return None
        with quiet_downloads():
            return Path(self.client.download_artifacts(self.run_id, path, str(self.folder)))

    def text(self, path: str) -> str | None:
        p = self.path(path)
        return p.read_text(encoding="utf-8") if p is not None else None


# ============================================================================ loading
def _cannot_load(uri: str, exc: Exception) -> DataError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return DataError(f"model {uri}: cannot load: {first}")


def load_model(uri: str) -> TierwiseModel:
    """A registered or logged task model (`models:/tierwise-churn@champion`, `runs:/...`)."""
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    tracking.connect()
    try:
        return mlflow.sklearn.load_model(uri)
    except (MlflowException, OSError) as exc:
        raise _cannot_load(uri, exc) from None


def load_task_model(task: str) -> tuple[TierwiseModel, str]:
    """The registered model of `task`: alias `champion`, else the latest version."""
    client = tracking.connect()
    name = registered_name(task)
    version = champion_or_latest(client, name)
    return load_model(version_uri(name, version)), version


class LoadedRecommender(NamedTuple):
    """A registered recommender, the version its URI resolved to, and the settings it was built
    with (features, policy, reasons)."""

    recommender: Any  # models.Recommender
    version: str
    settings: Any  # settings.RecommenderSettings


RECOMMENDER_MARKER = {"tierwise": "recommender"}
"""The MLmodel metadata `tierwise recommend` logs with the recommender."""


def check_is_recommender(uri: str) -> None:
    """Raise `DataError` unless the model at `uri` says, in its MLmodel file, that it is a
    tierwise recommender (a pyfunc with the marker, or, logged before the marker, the
    settings artifact). Only the metadata is read: a model is code, and its pickle runs when
    it is loaded, so nothing is loaded from a model that is not ours."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import get_model_info

    from tierwise.models.pyfunc import SETTINGS_ARTIFACT_KEY

    try:
        info = get_model_info(uri)
    except (MlflowException, OSError) as exc:
        raise _cannot_load(uri, exc) from None
    pyfunc = (info.flavors or {}).get("python_function")
    marked = (info.metadata or {}).get("tierwise") == RECOMMENDER_MARKER["tierwise"]
    legacy = pyfunc is not None and SETTINGS_ARTIFACT_KEY in (pyfunc.get("artifacts") or {})
    if pyfunc is None or not (marked or legacy):
        raise DataError(f"model {uri} is not a tierwise recommender (checked from its MLmodel file; nothing was "
                        "loaded). Load models only from a registry you trust: a model is code")


def load_recommender(uri: str) -> LoadedRecommender:
    """The `Recommender` inside a registered pyfunc, its version and its settings; `DataError`
    when the model cannot be loaded, is not a recommender or carries no settings."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    from tierwise.settings import RecommenderSettings

    client = tracking.connect()
    version = version_of(client, uri)
    check_is_recommender(uri)  # from its MLmodel metadata: nothing is unpickled before this
    try:
        loaded = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        raise _cannot_load(uri, exc) from None
    wrapper = loaded.unwrap_python_model()
    recommender = getattr(wrapper, "recommender", None)
    if recommender is None:
        raise DataError(f"model {uri} is not a tierwise recommender")
    path = getattr(wrapper, "settings_file", None)
    if path is None or not Path(path).is_file():
        raise DataError(f"model {uri} carries no {SETTINGS_ARTIFACT} (it was logged before the settings "
                        "were recorded); rebuild it with `tierwise recommend`")
    settings = RecommenderSettings.model_validate_json(Path(path).read_text(encoding="utf-8"))
    return LoadedRecommender(recommender, version, settings)


def recommender_settings(client: Any, name: str = RECOMMENDER, *, version: str | None = None,
                         alias: str | None = None) -> RecommenderSettings | None:
    """The settings a registered recommender version was built with, read from its run (no
    model loading); None when no such version is registered or it logged none."""
    import tempfile

    from mlflow.exceptions import MlflowException

    from tierwise.settings import RecommenderSettings

    try:
        client.get_registered_model(name)
    except MlflowException:
        return None
    found = version if version is not None else alias_version(client, name, alias or CHAMPION)
    mv = find_version(client, name, found) if found is not None else None
    if mv is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        text = RunFiles(client, mv.run_id, Path(tmp)).text(SETTINGS_ARTIFACT)
    return RecommenderSettings.model_validate_json(text) if text else None


RISK_LIMIT_PARAM = "risk_limit"
"""The run parameter of a recommender version: the PD limit its policy was resolved to (the
risk gate's limit, `ResolvedPolicy.risk_limit`)."""


def recommender_risk_limit(client: Any, name: str = RECOMMENDER, *, alias: str | None = None) -> float | None:
    """The resolved PD limit of the recommender that `alias` (champion) points to; None when
    there is none or it was built before the limit was logged."""
    found = alias_version(client, name, alias or CHAMPION)
    mv = find_version(client, name, found) if found is not None else None
    if mv is None:
        return None
    value = client.get_run(mv.run_id).data.params.get(RISK_LIMIT_PARAM)
    return float(value) if value is not None else None


__all__ = [
    "CHALLENGER", "CHAMPION", "RECOMMENDER", "SETTINGS_ARTIFACT", "LoadedRecommender", "RunFiles",
    "RISK_LIMIT_PARAM", "alias_version", "alias_versions", "all_versions", "champion_or_latest", "find_version", "load_model", "load_recommender",
    "load_task_model", "mark_new_version", "model_uri", "product_versions", "model_version", "quiet_downloads", "recommender_settings",
    "registered_name", "registered_version", "require_model", "set_alias", "set_version_tags", "task_models",
    "version_of",
    "version_tags", "version_uri",
]
