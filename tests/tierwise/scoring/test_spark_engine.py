"""The Spark engine on a real local Spark session equals the pandas engine: scores within 1e-9,
identical tiers, flags and reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tierwise.archive import SCORED_COLUMNS
from tierwise.registry import load_recommender
from tierwise.scoring import rejects_path, score_pandas
from tierwise.serving import free_port

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def assert_same_recommendations(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same clients in the same order, scores within 1e-9, everything else identical."""
    assert a["client_id"].tolist() == b["client_id"].tolist()
    for col in a.columns:
        if pd.api.types.is_float_dtype(a[col].dtype):
            np.testing.assert_allclose(b[col].to_numpy(), a[col].to_numpy(), rtol=0, atol=1e-9, err_msg=col)
        else:
            pd.testing.assert_series_equal(b[col], a[col], check_dtype=False, obj=col)


def test_spark_output_equals_pandas_output(world, tmp_path):
    from tierwise.scoring._spark_engine import score_spark, spark_session

    rec, version, configs = load_recommender(world["model"])
    score_pandas(world["bank"], world["month"], tmp_path / "pandas.parquet", recommender=rec,
                 feature_config=configs.features, model_uri=world["model"], model_version=version, chunk_clients=60)
    spark = spark_session("local[2]")
    try:
        result = score_spark(world["bank"], world["month"], tmp_path / "spark.parquet",
                             model_uri=world["model"], partitions=3, spark=spark)
    finally:
        spark.stop()
    a = pd.read_parquet(tmp_path / "pandas.parquet")
    b = pd.read_parquet(tmp_path / "spark.parquet")
    assert list(b.columns) == list(SCORED_COLUMNS)
    assert result.clients == len(a) == len(b) > 100
    assert_same_recommendations(a, b)
    assert rejects_path(tmp_path / "spark.parquet").is_file()


def test_local_masters_are_recognised():
    from tierwise.scoring._spark_engine import is_local_master

    assert is_local_master("local") and is_local_master("local[2]") and is_local_master("local[*]")
    assert not is_local_master("spark://10.0.0.5:7077")
    assert not is_local_master("yarn") and not is_local_master("k8s://https://api:6443")


def _spark_daemon(role: str, args: list[str], log, env: dict):  # noqa: ANN001, ANN202
    import subprocess
    from pathlib import Path

    import pyspark

    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    return subprocess.Popen([str(spark_class), f"org.apache.spark.deploy.{role}", *args, "--host", "127.0.0.1",
                             "--webui-port", str(free_port())],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def standalone_cluster(monkeypatch, tmp_path):
    """A real Spark standalone cluster on loopback: one master and one worker JVM, started with
    the `spark-class` launcher that the pyspark package ships; the URL of its master."""
    import os
    import signal
    import time
    from contextlib import ExitStack

    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    env = {**os.environ, "SPARK_WORKER_DIR": str(tmp_path / "work")}
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    worker_log = tmp_path / "worker.log"
    with ExitStack() as stack:
        logs = [stack.enter_context(open(tmp_path / name, "w")) for name in ("master.log", "worker.log")]
        procs = [_spark_daemon("master.Master", ["--port", str(port)], logs[0], env),
                 _spark_daemon("worker.Worker", [url, "--cores", "2", "--memory", "2g"], logs[1], env)]
        try:
            deadline = time.monotonic() + 120
            while "Successfully registered with master" not in worker_log.read_text():
                assert time.monotonic() < deadline, worker_log.read_text()[-2000:]
                assert all(p.poll() is None for p in procs), (tmp_path / "master.log").read_text()[-2000:]
                time.sleep(0.5)
            yield url
        finally:
            for p in procs:
                os.killpg(p.pid, signal.SIGTERM)
            for p in procs:
                p.wait(timeout=60)


def test_spark_engine_runs_on_a_standalone_cluster(world, tmp_path, standalone_cluster):
    """Executors in another JVM (the worker's), Python workers they start themselves, the model
    shipped by `spark_udf`: the output still equals the pandas engine's."""
    from tierwise.scoring._spark_engine import score_spark

    rec, version, configs = load_recommender(world["model"])
    score_pandas(world["bank"], world["month"], tmp_path / "pandas.parquet", recommender=rec,
                 feature_config=configs.features, model_uri=world["model"], model_version=version, chunk_clients=60)
    score_spark(world["bank"], world["month"], tmp_path / "cluster.parquet", model_uri=world["model"],
                master=standalone_cluster, partitions=2)
    a = pd.read_parquet(tmp_path / "pandas.parquet")
    b = pd.read_parquet(tmp_path / "cluster.parquet")
    assert len(a) > 100
    assert_same_recommendations(a, b)
    assert "app-" in " ".join(p.name for p in (tmp_path / "work").iterdir())  # the app ran on the worker


def test_without_pyspark_the_spark_engine_says_which_extra_to_install(monkeypatch):
    import importlib.util

    from tierwise.features import DataError
    from tierwise.scoring import score_spark

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    with pytest.raises(DataError, match=r"pip install 'tierwise\[spark\]'"):
        score_spark("no-data", None, "out.parquet", model_uri="models:/x@champion")


def test_spark_writes_the_same_archive_partition_as_pandas(world, tmp_path):
    """With last month's memory in the archive, both engines archive the same month: frames
    equal, scores within 1e-9; Spark reads the archive as it is."""
    import shutil

    from tierwise.archive import read_archive
    from tierwise.features import add_months
    from tierwise.scoring._spark_engine import score_spark, spark_session

    rec, version, configs = load_recommender(world["model"])
    previous = add_months(world["month"], -1)
    by_pandas, by_spark = tmp_path / "pandas", tmp_path / "spark"
    for month in (previous, world["month"]):
        score_pandas(world["bank"], month, archive=by_pandas, recommender=rec, feature_config=configs.features,
                     model_uri=world["model"], model_version=version, chunk_clients=70)
    by_spark.mkdir()
    shutil.copytree(by_pandas / f"month={previous:%Y-%m}-01", by_spark / f"month={previous:%Y-%m}-01")
    spark = spark_session("local[2]")
    try:
        score_spark(world["bank"], world["month"], archive=by_spark, model_uri=world["model"], partitions=3,
                    spark=spark)
        counts = {str(r["month"]): r["count"] for r in spark.read.parquet(str(by_spark)).groupBy("month").count()
                  .collect()}
    finally:
        spark.stop()
    a = read_archive(by_pandas, months=[world["month"]])
    b = read_archive(by_spark, months=[world["month"]])
    assert a["tier_prev"].notna().sum() > 100  # the memory was read
    assert_same_recommendations(a, b)
    assert counts == {f"{previous:%Y-%m}-01": int((read_archive(by_pandas, months=[previous])).shape[0]),
                      f"{world['month']:%Y-%m}-01": len(b)}


def test_spark_scores_a_recommender_with_growth_and_churn_alone_as_pandas_does(tmp_path):
    import recommender_factory as factory

    from tierwise.scoring._spark_engine import score_spark, spark_session

    bank = factory.make_bank(tmp_path / "bank", clients=120, months=14)
    month = factory.latest_month(bank)
    uri = factory.register_tiny_recommender(bank, tasks=("churn", "growth"))
    rec, version, configs = load_recommender(uri)
    assert rec.tasks == ("churn", "growth")
    score_pandas(bank, month, tmp_path / "pandas.parquet", recommender=rec, feature_config=configs.features,
                 model_uri=uri, model_version=version, chunk_clients=50)
    spark = spark_session("local[2]")
    try:
        score_spark(bank, month, tmp_path / "spark.parquet", model_uri=uri, partitions=2, spark=spark)
    finally:
        spark.stop()
    a = pd.read_parquet(tmp_path / "pandas.parquet")
    b = pd.read_parquet(tmp_path / "spark.parquet")
    assert_same_recommendations(a, b)
    assert b["p_default"].isna().all() and b["reason_default_1_en"].isna().all() and b["p_churn"].notna().all()
    credit = (b["credit_exposure"] > 0) & ~b["flag_in_default"].astype(bool)  # in default: said as a fact
    assert credit.any() and b.loc[credit, "tier_reason_en"].str.contains("default risk not assessed").all()
