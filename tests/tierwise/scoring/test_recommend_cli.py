"""`tierwise recommend`: the three champion task models from the registry + the policy ->
`tierwise-recommender` version with alias champion, which then scores like its parts."""

from __future__ import annotations

import warnings

import mlflow
import numpy as np
import pytest
import recommender_factory as factory
from typer.testing import CliRunner

from tierwise import tracking
from tierwise.cli import app
from tierwise.features import DataError
from tierwise.registry import load_recommender, recommender_risk_limit
from tierwise.settings import load_settings

runner = CliRunner()


def _register_task_models(bank) -> dict:
    models = factory.tiny_models(factory.bank_features(bank))
    client = tracking.connect()
    for task, model in models.items():
        with mlflow.start_run(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = mlflow.sklearn.log_model(model, name="model", registered_model_name=f"tierwise-{task}",
                                            serialization_format="cloudpickle")
        client.set_registered_model_alias(f"tierwise-{task}", "champion", str(info.registered_model_version))
    return models


@pytest.mark.slow
def test_recommend_bundles_the_champions(scoring_world):
    bank = scoring_world["bank"]
    models = _register_task_models(bank)
    result = runner.invoke(app, ["recommend", "--data", str(bank)])
    assert result.exit_code == 0, result.output
    assert "registered tierwise-recommender version 1 (champion)" in result.output
    recommender, version, settings = load_recommender("models:/tierwise-recommender@champion")
    assert version == "1" and settings.policy == load_settings(factory.CONFIG_DIR).policy  # built with these
    features = factory.bank_features(bank).head(30)
    out = recommender.recommend(features)
    direct = models["churn"].predict_score(features)
    np.testing.assert_allclose(out["p_churn"].to_numpy(), direct, rtol=0, atol=1e-12)
    # the resolved PD limit (the risk watch's) is logged for the monitor to use
    limit = recommender_risk_limit(mlflow.MlflowClient(tracking.tracking_uri(), tracking.tracking_uri()))
    assert limit is not None and limit >= settings.policy.risk.pd_limit
    assert limit == pytest.approx(recommender.policy.risk_limit, rel=1e-5)


def test_recommend_without_champions_is_one_line(scoring_world):
    result = runner.invoke(app, ["recommend", "--data", str(scoring_world["bank"])])
    assert isinstance(result.exception, DataError)
    assert "no task model has the alias 'champion'" in str(result.exception)
    assert "for at least one task" in str(result.exception)
