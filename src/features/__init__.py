"""Raw tables to model-ready frames: contracts, validation, point-in-time features, labels."""

from tierwise.features._catalog import PROTECTED_FEATURES, FeatureInfo, feature_catalog
from tierwise.features._config import FrozenConfig
from tierwise.features._contract import (
    BALANCE_COLUMNS,
    CLIENT_COLUMNS,
    CLIENT_KEY,
    MONTH_KEY,
    MONTHLY_COLUMNS,
    PROTECTED_ATTRIBUTES,
    RawColumn,
    column_names,
)
from tierwise.features._errors import (
    ConfigError,
    DataError,
    TierwiseError,
    first_names,
    missing_columns,
)
from tierwise.features._events import (
    CHURN_KINDS,
    DEFAULT_KINDS,
    EVENT_COLUMNS,
    EVENT_KINDS,
    EventMarks,
    check_events,
    event_marks,
    events_path,
    read_events,
)
from tierwise.features._feature_config import FeatureConfig
from tierwise.features._files import (
    atomic_path,
    current_umask,
    file_mode,
    write_arrow_atomic,
    write_bytes_atomic,
    write_text_atomic,
)
from tierwise.features._flat import (
    DatasetConfig,
    DroppedColumn,
    FlatReport,
    LeakageConfig,
    load_flat_table,
    read_flat_file,
)
from tierwise.features._flat_preprocess import FlatTablePreprocessor
from tierwise.features._frame import SPLITS, ModelFrame
from tierwise.features._io import (
    ROW_ID,
    read_raw_tables,
    read_table,
    table_path,
    write_table,
)
from tierwise.features._labels import TASKS, Task, build_labels, label_column, label_history
from tierwise.features._leakage import LeakReport, LeakSuspect, screen_leaks
from tierwise.features._months import (
    add_months,
    check_month_in_range,
    month_date,
    month_index,
    month_label,
    month_range,
    parse_month,
)
from tierwise.features._snapshot import AGE_BANDS, age_band, snapshot_features
from tierwise.features._trainset import UNUSED, build_training_table, client_groups, task_frame
from tierwise.features._validation import (
    ContractRules,
    ValidationReport,
    validate_tables,
    write_rejects,
)

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
    "PROTECTED_FEATURES",
    "RawColumn",
    "SPLITS",
    "TASKS",
    "Task",
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
    "atomic_path",
    "current_umask",
    "file_mode",
    "write_arrow_atomic",
    "write_bytes_atomic",
    "write_text_atomic",
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
    "AGE_BANDS",
    "age_band",
    "build_labels",
    "label_column",
    "label_history",
    "add_months",
    "check_month_in_range",
    "month_date",
    "month_index",
    "month_label",
    "month_range",
    "parse_month",
    "build_training_table",
    "client_groups",
    "task_frame",
    "UNUSED",
    "first_names",
    "missing_columns",
    "CHURN_KINDS",
    "DEFAULT_KINDS",
    "EVENT_COLUMNS",
    "EVENT_KINDS",
    "EventMarks",
    "check_events",
    "event_marks",
    "events_path",
    "read_events",
]
