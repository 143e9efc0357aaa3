"""Fixtures for the model tests: the bank's policy file as parsed YAML."""

from __future__ import annotations

import pytest
from policy_cases import read_policy


@pytest.fixture(scope="module")
def raw_policy() -> dict:
    return read_policy()
