"""`tierwise.registry`: names, aliases and versions, with one-line errors for what is missing."""

from __future__ import annotations

import pytest

from tierwise import registry, tracking
from tierwise.features import DataError


def test_names_and_uris():
    assert registry.registered_name("churn") == "tierwise-churn"
    assert registry.model_uri("tierwise-churn", registry.CHAMPION) == "models:/tierwise-churn@champion"
    assert registry.version_uri("tierwise-churn", "3") == "models:/tierwise-churn/3"


def test_version_of_a_uri_without_an_alias_needs_no_registry():
    client = tracking.connect()
    assert registry.version_of(client, "models:/tierwise-recommender/7") == "7"
    assert registry.version_of(client, "runs:/abc/model") == "runs:/abc/model"


def test_missing_models_and_aliases_are_one_line():
    client = tracking.connect()
    assert registry.alias_version(client, "tierwise-nothing", registry.CHAMPION) is None
    with pytest.raises(DataError, match=r"^model models:/tierwise-nothing@champion: no version of tierwise-nothing "
                                        r"has the alias 'champion'$"):
        registry.version_of(client, "models:/tierwise-nothing@champion")
    with pytest.raises(DataError, match=r"^tierwise-nothing: no registered model of that name \(the registry is empty\)$"):
        registry.registered_version(client, "tierwise-nothing")
    with pytest.raises(DataError, match=r"^no registered model 'tierwise-nothing' in .*; train one first"):
        registry.champion_or_latest(client, "tierwise-nothing")
    with pytest.raises(DataError, match=r"^model models:/tierwise-nothing@champion: cannot load: "):
        registry.load_model("models:/tierwise-nothing@champion")


def test_no_registered_recommender_has_no_settings():
    client = tracking.connect()
    assert registry.recommender_settings(client) is None
    assert registry.version_tags(registry.find_version(client, "tierwise-nothing", "1")) == {}


def test_a_recommender_without_its_settings_is_refused_in_one_line(monkeypatch, tmp_path):
    import mlflow.pyfunc

    class Wrapper:  # a recommender pyfunc logged before settings.json was recorded
        recommender = object()
        settings_file = str(tmp_path / "absent.json")

    class Loaded:
        def unwrap_python_model(self):
            return Wrapper()

    monkeypatch.setattr(mlflow.pyfunc, "load_model", lambda uri: Loaded())
    monkeypatch.setattr(registry, "check_is_recommender", lambda uri: None)  # its MLmodel says it is one
    with pytest.raises(DataError, match=r"model runs:/abc/model carries no settings.json .*`tierwise recommend`"):
        registry.load_recommender("runs:/abc/model")
