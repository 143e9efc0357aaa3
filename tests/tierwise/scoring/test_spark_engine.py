"""The Spark engine on a real local Spark session equals the pandas engine: scores within 1e-9,
identical tiers, flags and reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import RECOMMENDATION_COLUMNS
from tierwise.recommender import load_recommender
from tierwise.scoring import rejects_path, score_pandas

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_spark_output_equals_pandas_output(world, tmp_path):
    from tierwise.scoring._spark_engine import score_spark, spark_session

    rec, version, configs = load_recommender(world["model"])
    score_pandas(world["bank"], world["month"], tmp_path / "pandas.parquet", recommender=rec,
                 config_dir=configs, model_uri=world["model"], model_version=version, chunk_clients=60)
    spark = spark_session("local[2]")
    try:
        result = score_spark(world["bank"], world["month"], tmp_path / "spark.parquet",
                             model_uri=world["model"], partitions=3, spark=spark)
    finally:
        spark.stop()
    a = pd.read_parquet(tmp_path / "pandas.parquet")
    b = pd.read_parquet(tmp_path / "spark.parquet")
    assert list(b.columns) == list(RECOMMENDATION_COLUMNS)
    assert result.clients == len(a) == len(b) > 100
    assert a["client_id"].tolist() == b["client_id"].tolist()
    for col in a.columns:
        if pd.api.types.is_float_dtype(a[col].dtype):
            np.testing.assert_allclose(b[col].to_numpy(), a[col].to_numpy(), rtol=0, atol=1e-9, err_msg=col)
        else:
            pd.testing.assert_series_equal(b[col], a[col], check_dtype=False, obj=col)
    assert rejects_path(tmp_path / "spark.parquet").is_file()
