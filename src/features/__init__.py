"""Raw tables to model-ready frames: contracts, validation, point-in-time features, labels."""

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
from features._errors import ConfigError, DataError, TierwiseError
from features._frame import SPLITS, ModelFrame

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
    "TierwiseError",
    "column_names",
]
