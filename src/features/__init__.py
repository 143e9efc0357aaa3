"""Raw tables to model-ready frames: contracts, validation, point-in-time features, labels."""

from features._catalog import FeatureInfo, feature_catalog
from features._config import FrozenConfig
from features._contract import (
    BALANCE_COLUMNS,
    CLIENT_COLUMNS,
    CLIENT_KEY,
    MONTH_KEY,
    MONTHLY_COLUMNS,
    PROTECTED_ATTRIBUTES,
    RawColumn,
    column_names,
)
from features._errors import ConfigError, DataError, TierwiseError, first_names, missing_columns
from features._feature_config import FeatureConfig
from features._flat import (
    DatasetConfig,
    DroppedColumn,
    FlatReport,
    LeakageConfig,
    load_flat_table,
    read_flat_file,
)
from features._flat_preprocess import FlatTablePreprocessor
from features._frame import SPLITS, ModelFrame
from features._io import (
    ROW_ID,
    read_raw_tables,
    read_table,
    table_path,
    write_arrow_atomic,
    write_table,
)
from features._labels import TASKS, build_labels, label_column
from features._leakage import LeakReport, LeakSuspect, screen_leaks
from features._snapshot import snapshot_features
from features._trainset import UNUSED, build_training_table, client_groups, task_frame
from features._validation import ContractRules, ValidationReport, validate_tables, write_rejects

__all__ = [
    "BALANCE_COLUMNS",
    "CLIENT_COLUMNS",
    "CLIENT_KEY",
    "ConfigError",
    "DataError",
    "FrozenConfig",
    "MONTHLY_COLUMNS",
    "MONTH_KEY",
    "ModelFrame",
    "PROTECTED_ATTRIBUTES",
    "RawColumn",
    "SPLITS",
    "TASKS",
    "TierwiseError",
    "column_names",
    "ROW_ID",
    "ContractRules",
    "ValidationReport",
    "read_raw_tables",
    "read_table",
    "table_path",
    "validate_tables",
    "write_rejects",
    "write_arrow_atomic",
    "write_table",
    "DatasetConfig",
    "DroppedColumn",
    "FlatReport",
    "FlatTablePreprocessor",
    "LeakReport",
    "LeakSuspect",
    "LeakageConfig",
    "load_flat_table",
    "read_flat_file",
    "screen_leaks",
    "FeatureConfig",
    "FeatureInfo",
    "feature_catalog",
    "snapshot_features",
    "build_labels",
    "label_column",
    "build_training_table",
    "client_groups",
    "task_frame",
    "UNUSED",
    "first_names",
    "missing_columns",
]
