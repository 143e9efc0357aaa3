"""The Spark scoring engine: the same job as the pandas engine, on a Spark cluster (or local[N]).

1. the raw tables are read and validated on the driver (rejects beside the output), exactly as
   the pandas engine does;
2. snapshot features per client partition: clients and their monthly rows are co-grouped by a
   client-hash bucket and `snapshot_features` runs on each bucket with `applyInPandas` (every
   feature of a client depends only on that client's rows, so buckets equal the whole);
3. scoring with `mlflow.pyfunc.spark_udf(..., env_manager="local")` on the registered
   recommender (the pyfunc: its task models, TreeSHAP reasons, per-client policy);
4. on the driver: relationship-manager capacity over everyone, the atomic write, the MLflow run.

Python workers run this interpreter (`PYSPARK_PYTHON` = `sys.executable`), never `python3`
from the PATH; in local mode the driver binds to 127.0.0.1 and the UI is off.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierwise import archive as client_archive
from tierwise.features import (
    CLIENT_KEY,
    MONTH_KEY,
    ROW_ID,
    DataError,
    FeatureConfig,
    check_month_in_range,
    make_folder,
    months_within_end,
    read_raw_tables,
    reference_rules,
    snapshot_features,
)
from tierwise.groups import month_groups
from tierwise.models import GroupsConfig, as_str
from tierwise.scoring._checkpoint import file_fingerprint
from tierwise.scoring._job import (
    JobPaths,
    MonthInputs,
    RunInputs,
    ScoreResult,
    check_something_scored,
    fingerprinted_files,
    finish,
    input_files,
    job_lock,
    job_paths,
    log_run,
    prepare_month,
    rejected_counts,
    with_memory,
    write_rejects,
)

logger = logging.getLogger(__name__)

BUCKET = "_bucket"


def is_local_master(master: str) -> bool:
    """`local`, `local[N]`, `local[*]`: everything runs in this process's JVM."""
    return master == "local" or master.startswith("local[")


def require_pyspark() -> None:
    """`DataError` naming the extra to install when pyspark is missing (it is optional)."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        raise DataError("the Spark engine needs pyspark, which is not installed: "
                        "pip install 'tierwise[spark]' (or use --engine pandas)")


def spark_session(master: str = "local[2]", app_name: str = "tierwise-score") -> Any:
    """A Spark session whose Python workers are this interpreter.

    In local mode the driver binds to loopback and the UI is off (nothing listens on the
    network); on a cluster master (`spark://`, `yarn`, `k8s://`) the driver's address comes from
    the cluster's own Spark configuration (`spark-defaults.conf`, `SPARK_LOCAL_IP`) so that
    executors on other machines can reach it.
    """
    require_pyspark()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app_name)
    if is_local_master(master):
        builder = (builder.config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.ui.enabled", "false"))
    return (builder
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.python.worker.reuse", "true")
            .getOrCreate())


def _spark_schema(frame: pd.DataFrame) -> Any:
    """Spark schema of a pandas frame (str -> string, numbers -> double/long, dates -> timestamp)."""
    from pyspark.sql import types as T

    fields = []
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            kind = T.BooleanType()
        elif pd.api.types.is_integer_dtype(dtype):
            kind = T.LongType()
        elif pd.api.types.is_float_dtype(dtype):
            kind = T.DoubleType()
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            kind = T.TimestampType()
        else:
            kind = T.StringType()
        fields.append(T.StructField(str(name), kind, True))
    return T.StructType(fields)


def _features_udf(month: dt.date, config: FeatureConfig, columns: list[str]):
    def features(monthly: pd.DataFrame, clients: pd.DataFrame) -> pd.DataFrame:
        monthly = monthly.drop(columns=[BUCKET])
        clients = clients.drop(columns=[BUCKET])
        if len(clients) == 0 or len(monthly) == 0:
            return pd.DataFrame({c: pd.Series([], dtype="float64") for c in columns})
        monthly["month"] = pd.to_datetime(monthly["month"]).astype("datetime64[ns]")
        clients["onboarding_month"] = pd.to_datetime(clients["onboarding_month"]).astype("datetime64[ns]")
        out = snapshot_features(clients, monthly.sort_values([CLIENT_KEY, "month"], ignore_index=True),
                                month, config)
        return out.loc[:, columns]
    return features


def _to_spark(spark: Any, frame: pd.DataFrame, partitions: int) -> Any:
    from pyspark.sql import functions as F

    data = frame.copy()
    for col in data.columns:  # Arrow needs plain types: nullable ints and bools as floats/objects
        if isinstance(data[col].dtype, pd.CategoricalDtype):
            data[col] = data[col].astype("str")
    sdf = spark.createDataFrame(data, schema=_spark_schema(data))
    return sdf.withColumn(BUCKET, F.pmod(F.xxhash64(F.col(CLIENT_KEY)), F.lit(partitions)))


def _with_spark_memory(spark: Any, features: Any, prior: pd.DataFrame) -> Any:
    """The features joined with the archive's tier memory (`tier_prev`, `p_default_prev`)."""
    if len(prior) == 0:
        return features
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField(CLIENT_KEY, T.StringType(), False),
                           T.StructField("tier_prev", T.StringType(), True),
                           T.StructField("p_default_prev", T.DoubleType(), True)])
    memory = prior.loc[:, [CLIENT_KEY, "tier_prev", "p_default_prev"]].astype({"p_default_prev": "float64"})
    memory[CLIENT_KEY] = memory[CLIENT_KEY].astype("str")
    memory["tier_prev"] = memory["tier_prev"].astype(object).where(memory["tier_prev"].notna(), None)
    return features.join(spark.createDataFrame(memory, schema=schema), on=CLIENT_KEY, how="left")


def _prepare(data_dir: Path, month: dt.date, paths: JobPaths,
             groups: GroupsConfig) -> tuple[RunInputs, MonthInputs, pd.Series | None]:
    """The raw tables read and prepared on the driver, as the pandas engine prepares each chunk,
    with the month's connected groups when the bank has relations; the rejects (relations rows
    too) are written beside the output. The input fingerprint is the pandas engine's (the
    engine is logged apart): both engines archive the same rows."""
    files = input_files(data_dir)
    fingerprint = file_fingerprint(fingerprinted_files(data_dir), month.isoformat())
    clients, monthly = read_raw_tables(data_dir)
    rules = reference_rules(data_dir)
    check_month_in_range(month, months_within_end(monthly[MONTH_KEY], rules), source=str(files[1]), what="--month")
    clients[ROW_ID] = np.arange(len(clients), dtype=np.int64)
    monthly[ROW_ID] = np.arange(len(monthly), dtype=np.int64)
    prepared = prepare_month(clients, monthly, month, sources=(str(files[0]), str(files[1])), rules=rules)
    related, relation_rejects = month_groups(data_dir, month, clients[CLIENT_KEY], groups)
    rejects = prepared.rejects
    if relation_rejects is not None and len(relation_rejects):
        rejects = pd.concat([rejects, relation_rejects], ignore_index=True)
    write_rejects(rejects, paths)
    check_something_scored(prepared.clients, rejects, month, files[1], paths)
    logger.info("%d clients with a row at %s (of %d read)", len(prepared.clients), f"{month:%Y-%m}", len(clients))
    inputs = RunInputs(month=month, fingerprint=fingerprint, rows_in={"clients": len(clients), "monthly": len(monthly)},
                       rows_rejected=rejected_counts(rejects))
    return inputs, prepared, related


def score_spark(data_dir: Path, month: dt.date, out: Path | None = None, *, model_uri: str,
                archive: Path | None = None, master: str = "local[2]", partitions: int = 8,
                spark: Any = None, groups: GroupsConfig | None = None) -> ScoreResult:
    """Score every client alive at `month` on Spark into the `archive` partition and/or the `out`
    file, with the archive's tier memory and, as the pandas engine does, contagion within the
    month's connected groups (`groups` settings, default `GroupsConfig()`); see the module
    docstring. The --out file and the archive month are locked for the whole job (`job_lock`)."""
    with job_lock(job_paths(month, out=out, archive=archive), month):
        return _score_spark(data_dir, month, out, model_uri=model_uri, archive=archive, master=master,
                            partitions=partitions, spark=spark, groups=groups or GroupsConfig())


def _score_spark(data_dir: Path, month: dt.date, out: Path | None = None, *, model_uri: str,
                 archive: Path | None = None, master: str = "local[2]", partitions: int = 8,
                 spark: Any = None, groups: GroupsConfig) -> ScoreResult:
    require_pyspark()
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    from tierwise.registry import load_recommender

    began = time.perf_counter()
    paths = job_paths(month, out=out, archive=archive)
    make_folder(paths.rejects.parent)
    loaded = load_recommender(model_uri)
    recommender, version, config = loaded.recommender, loaded.version, loaded.settings.features
    prior = client_archive.prior_state(archive, month, trend_months=recommender.policy.policy.risk.trend_months)
    inputs, prepared, related = _prepare(Path(data_dir), month, paths, groups)
    own = spark is None
    spark = spark or spark_session(master)
    try:
        sample_ids = prepared.clients[CLIENT_KEY].head(20)
        sample = snapshot_features(prepared.clients[prepared.clients[CLIENT_KEY].isin(sample_ids)],
                                   prepared.monthly[prepared.monthly[CLIENT_KEY].isin(sample_ids)], month, config)
        feature_schema = _spark_schema(sample)
        sample = with_memory(sample, prior)
        monthly = _to_spark(spark, prepared.monthly, partitions)
        clients = _to_spark(spark, prepared.clients, partitions)
        features = (monthly.groupBy(BUCKET).cogroup(clients.groupBy(BUCKET))
                    .applyInPandas(_features_udf(month, config, list(feature_schema.fieldNames())),
                                   schema=feature_schema))
        features = _with_spark_memory(spark, features, prior)
        columns = list(features.columns)
        wanted = [c for c in (*recommender.required_inputs, *recommender.optional_inputs)
                  if c in columns and c != "snapshot_month"]
        numeric = {f.name for f in features.schema.fields if f.dataType.typeName() in ("double", "long")}
        text = set(wanted) - numeric
        cast = [F.col(c).cast("string").alias(c) if c in text else F.col(c).cast("double").alias(c) for c in wanted]
        output = recommender.recommend(sample.head(1)).loc[:, list(recommender.pyfunc_columns)]
        result_type = _spark_schema(output)
        udf = mlflow.pyfunc.spark_udf(spark, model_uri, result_type=result_type, env_manager="local")
        scored = features.select(*cast).select(udf(F.struct(*[F.col(c) for c in wanted])).alias("r")).select("r.*")
        recs = scored.toPandas()
    finally:
        if own:
            spark.stop()
    recs.insert(1, "month", pd.Timestamp(month))
    recs["month"] = recs["month"].astype("datetime64[ns]")
    for name, kind in zip(result_type.fieldNames(), result_type.fields, strict=True):
        if kind.dataType.typeName() == "string":
            # MLflow's spark_udf casts struct string fields with numpy `str`: a missing value
            # arrives as the text "nan" (mlflow.pyfunc._convert_struct_values); make it missing again
            values = as_str(recs[name])
            recs[name] = values.mask(values == "nan")
    recs = finish(recs, recommender, paths, month=month, prior=prior, model_version=version,
                  fingerprint=inputs.fingerprint, groups=related)
    seconds = time.perf_counter() - began
    run_id = log_run(recs=recs, inputs=inputs, model_uri=model_uri, model_version=version, engine="spark",
                     out=paths.target, seconds=seconds)
    return ScoreResult(out=paths.out, archived=paths.archive, clients=len(recs), chunks=partitions, resumed_chunks=0,
                       tiers=recs["tier"].value_counts().to_dict(), rejected=inputs.rows_rejected,
                       run_id=run_id, seconds=seconds)
