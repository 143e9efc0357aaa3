"""The base for every configuration model: frozen, and unknown keys are errors."""

from pydantic import BaseModel, ConfigDict


class FrozenConfig(BaseModel):
    """Immutable configuration parsed from YAML; a misspelled key fails instead of being ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")
