"""The optional `next_tier` field of the lean server's answers (`?next_tier=1`).

`POST /invocations?next_tier=1` and `GET /clients/{id}?next_tier=1` add to each prediction a
`next_tier` object (`models.next_tier_record`): what would move the client up a tier, verified
on the served recommender. Without the query parameter nothing here runs: the default answer
and its speed are unchanged.

The search needs the plausible ranges of the month (`models.plausible_ranges`: the levers'
values among the clients of each tier), so it reads the latest snapshot features the monthly
job keeps beside the archive (the same file `GET /clients/{id}` answers from; none: 503) and
builds the search once per snapshot file. `GET /clients/{id}` also starts from the client's
archived tier, review and tier memory of that month when the archive holds it (as `tierwise
explain --next-tier` does); a posted row is searched as it is sent (its own `tier_prev` and
`p_default_prev`, if any). A lever works only when the rows carry its monthly column (the
recommender's inputs do when its models use every feature, the default).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tierwise.features import TierwiseError

logger = logging.getLogger(__name__)

QUERY = "next_tier"
"""The query parameter that asks for the field (`1` or `true`)."""


def wanted(query: Any) -> bool:
    """Whether a request's query parameters ask for `next_tier`."""
    return str(query.get(QUERY, "")).strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class _Month:
    records: dict  # the snapshot's client id -> row (the server's cache), to know when it changes
    search: Any  # models.NextTierSearch
    held: pd.DataFrame | None  # the month's archived rows (models.HELD_COLUMNS), None: not archived


class NextTierUnavailable(TierwiseError):
    """The server cannot add `next_tier` (not configured, or a row the search refuses): a 400."""


def _month(state: Any, config: Any, snapshot: tuple[str, dict]) -> _Month:
    """The search of the snapshot month (built once per snapshot file)."""
    from tierwise import archive as client_archive
    from tierwise.features import parse_month
    from tierwise.models import HELD_COLUMNS, NextTierConfig, NextTierSearch
    from tierwise.models.pyfunc import check_request

    if config.next_tier is None:
        raise NextTierUnavailable("next_tier is not configured for this server (configs/next_tier.yaml)")
    month, records = snapshot
    cached = getattr(state, "next_tier", None)
    if cached is not None and cached.records is records:
        return cached
    began = time.perf_counter()
    population = check_request(pd.DataFrame.from_records(list(records.values())), state.recommender)
    when = parse_month(month)
    held = None
    if when in client_archive.archived_months(Path(config.archive)):
        held = client_archive.read_archive(Path(config.archive), months=[when], columns=HELD_COLUMNS[1:])
    search = NextTierSearch.for_population(state.recommender, NextTierConfig.model_validate(config.next_tier),
                                           state.settings.features, population, held=held)
    state.next_tier = _Month(records=records, search=search, held=held)
    logger.info("next tier: ranges of %s from %d clients in %.2f s", month, len(population),
                time.perf_counter() - began)
    return state.next_tier


def add_next_tier(state: Any, config: Any, rows: list[dict[str, Any]] | dict[str, Any],
                  predictions: list[dict[str, Any]], *, snapshot: tuple[str, dict],
                  archived: bool = False) -> list[dict[str, Any]]:
    """`predictions` (one per row of `rows`, in order) each with its `next_tier` field.
    `state`: the server's (`recommender`, `settings`, and `next_tier`, this module's cache);
    `config`: its `ServeConfig`; `snapshot`: (month, client id -> row) of the latest snapshot
    features; `archived`: start from the clients' archived month (`GET /clients/{id}`).
    `NextTierUnavailable` for a server without the config or a row the search refuses."""
    from tierwise.models import next_tier_record
    from tierwise.models.pyfunc import check_request

    month = _month(state, config, snapshot)
    frame = (pd.DataFrame(rows["data"], columns=rows["columns"]) if isinstance(rows, dict)
             else pd.DataFrame.from_records(rows))
    try:
        answers = month.search.search(check_request(frame, state.recommender), held=month.held if archived else None)
    except TierwiseError as exc:
        raise NextTierUnavailable(str(exc)) from None
    catalogues = state.settings.reasons
    return [{**p, "next_tier": next_tier_record(a, catalogues)} for p, a in zip(predictions, answers, strict=True)]
