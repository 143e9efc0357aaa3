"""Load YAML configuration files into frozen pydantic models, with one-line errors.

Configuration is read here, by the CLI, and passed down; library code never reads files at
import time. An unknown or mistyped key fails with the file, the key and the allowed keys.
"""

from __future__ import annotations

import os
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tierwise.features import ConfigError

ConfigT = TypeVar("ConfigT", bound=BaseModel)

CONFIG_DIR_ENV = "TIERWISE_CONFIG_DIR"


def default_config_dir() -> Path:
    """`$TIERWISE_CONFIG_DIR`, else `./configs`, else the `configs/` shipped beside `src/`."""
    env = os.environ.get(CONFIG_DIR_ENV)
    if env:
        return Path(env)
    here = Path.cwd() / "configs"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "configs"


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, naming the file and line of any problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position {exc.start}); "
                          "save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top, got {type(raw).__name__}")
    return raw


def load_config(path: str | Path, model: type[ConfigT]) -> ConfigT:
    """Parse the YAML file at `path` into `model`, raising `ConfigError` with one clear line."""
    return parse_config(read_yaml(path), model, source=str(path))


def parse_config(raw: dict[str, Any], model: type[ConfigT], *, source: str) -> ConfigT:
    """Validate an already-read mapping; `source` names where it came from in errors."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, model, source)) from None


def describe_validation_error(exc: ValidationError, model: type[BaseModel], source: str) -> str:
    """One line for the first problem: file, dotted key, what is wrong, what is allowed."""
    errors = exc.errors()
    first = errors[0]
    loc = [str(p) for p in first["loc"]]
    key = ".".join(loc) or "(top level)"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, first["loc"][:-1])
        allowed_text = ", ".join(allowed) if allowed else "none"
        return f"{source}: unknown key '{key}'; allowed keys here: {allowed_text}{more}"
    if first["type"] == "missing":
        return f"{source}: missing required key '{key}'{more}"
    value = first.get("input")
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return f"{source}: key '{key}' = {shown}: {first['msg']}{more}"


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model found by following `loc` through annotations."""
    current: Any = model
    for part in loc:
        current = _unwrap_model(current)
        if current is None:
            return []
        if isinstance(part, int) or part not in current.model_fields:
            # list index or dict key: step into the container's item type
            continue
        current = current.model_fields[part].annotation
    current = _unwrap_model(current)
    return sorted(current.model_fields) if current is not None else []


def _unwrap_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None
