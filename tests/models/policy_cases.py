"""The bank's policy file and a policy built from it with some sections overridden: shared by the
policy tests on hand-made clients."""

from __future__ import annotations

from pathlib import Path

from tierwise.config import parse_config, read_yaml
from tierwise.models import PolicyConfig

POLICY_FILE = Path(__file__).resolve().parents[2] / "configs" / "policy.yaml"


def read_policy() -> dict:
    return read_yaml(POLICY_FILE)


def make_policy(raw: dict, **overrides: object) -> PolicyConfig:
    """`raw` with each override merged into its section (a dict) or replacing it (anything else)."""
    data = {**raw}
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_config(data, PolicyConfig, source="test policy")
