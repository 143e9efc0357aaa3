"""What a client or relationship manager can change, and what never changes
(`configs/next_tier.yaml`), parsed into frozen pydantic models.

The search that uses it is `models._next_tier`; the settings loader checks every feature
name against the features config (one line naming the file and the key).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from tierwise.features import WHAT_IF_COLUMNS, FrozenConfig

Group = Literal["deposits", "wealth", "products", "salary", "digital"]


class LeverConfig(FrozenConfig):
    """One actionable change: a raw monthly column raised at the snapshot month.

    `column`: one of `features.WHAT_IF_COLUMNS` (its level feature has the same name);
    `group`: the feature group it belongs to, for the pages; `step`: amounts are rounded up to
    a multiple of it (1,000 of the currency; 1 login); `only_from_zero`: offered only to
    clients at zero (salary domiciliation is set up, not topped up).
    """

    column: str
    group: Group
    direction: Literal["up"] = "up"
    step: float = Field(1000.0, gt=0)
    only_from_zero: bool = False

    @field_validator("column")
    @classmethod
    def _known_column(cls, column: str) -> str:
        if column not in WHAT_IF_COLUMNS:
            raise ValueError(f"not a monthly column a change can be modelled for; one of {', '.join(WHAT_IF_COLUMNS)}")
        return column


class NextTierConfig(FrozenConfig):
    """The next-tier search: levers, their plausible range and the fixed features.

    A change is taken as held over the last `hold_months` months (the client keeps the money:
    the contribution's average sees it in each of them; 1: the snapshot month alone). A lever's
    value may rise at most to the `range_quantile` of that column among the clients of the
    target tier in the scored month (the clients at or above it when the tier has fewer than
    `min_reference`, all clients when those are still fewer); `max_changes` levers at most per alternative, `alternatives`
    alternatives per client, `candidates` candidate amounts per lever for one change (fewer
    for two and three: `candidates_pair`, `candidates_triple`). `fixed`: features no
    alternative may move (checked against every lever at load time).
    """

    hold_months: int = Field(3, ge=1, le=12)
    max_changes: int = Field(3, ge=1, le=3)
    alternatives: int = Field(3, ge=1, le=10)
    range_quantile: float = Field(0.75, gt=0.0, le=1.0)
    min_reference: int = Field(20, ge=1)
    candidates: int = Field(8, ge=1, le=32)
    candidates_pair: int = Field(4, ge=1, le=16)
    candidates_triple: int = Field(3, ge=1, le=8)
    shown_per_rm: int = Field(5, ge=0, le=50)
    """RM page: at most this many clients per RM in "within reach of the next tier" (0: no section)."""
    searched_per_rm: int = Field(15, ge=0, le=200)
    """RM page: the monthly job searches at most this many clients per RM (below the top tier,
    not in default or exit review; growth leads first, then the smallest shortfall of expected
    value to the next tier's cut), so its cost stays bounded."""
    levers: dict[str, LeverConfig]
    fixed: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _levers(self) -> NextTierConfig:
        if not self.levers:
            raise ValueError("levers: name at least one lever")
        columns = [lever.column for lever in self.levers.values()]
        doubled = sorted({c for c in columns if columns.count(c) > 1})
        if doubled:
            raise ValueError(f"levers: column '{doubled[0]}' is named by more than one lever")
        return self
