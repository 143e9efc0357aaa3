"""Batch scoring: the recommendations table for every client of a month, on one machine
(pandas, in resumable chunks) or on Spark (`applyInPandas` features, `spark_udf` scoring)."""

from tierwise.scoring._checkpoint import PartStore, file_fingerprint
from tierwise.scoring._job import parts_path, rejects_path, with_memory
from tierwise.scoring._pandas_engine import ScoreResult, score_pandas
from tierwise.scoring._spark_engine import score_spark

__all__ = [
    "PartStore",
    "ScoreResult",
    "file_fingerprint",
    "parts_path",
    "rejects_path",
    "score_pandas",
    "score_spark",
    "with_memory",
]
