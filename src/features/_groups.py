"""Connected groups of clients from the `relations` table: who stands or falls together.

A bank's large-exposure rules count exposure by group of connected counterparties (Basel
large-exposures framework): firms tied by **control** (majority ownership, the power to appoint
the board) or by **economic dependence** (one firm's failure would bring the other down). In a
month t, two clients are joined when

- a control link holds between them with a share above 0.5, or with no share (control by other
  means: the power to appoint the board);
- a guarantee holds between them (either way);
- the client's flows with the counterparty (paid to a supplier plus received from a customer)
  are at least `dependence_share` of all its supplier and customer flows that month.

Groups are the connected components of the undirected graph of these edges among clients
(`scipy.sparse.csgraph.connected_components`); links to firms that are not clients join no
one. A client with no edge is a group of its own. Group ids are the smallest member id, so the
same membership gets the same id in every month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tierwise.features._contract import CLIENT_KEY
from tierwise.features._relations import COUNTERPARTY_KEY, flows_of, links_as_of

GROUP_KEY = "group_id"
CONTROL_SHARE = 0.5
"""An ownership share above this is control."""


def group_edges(relations: pd.DataFrame, month: pd.Timestamp, *, dependence_share: float = 0.5,
                include: tuple[str, ...] = ("control", "guarantee", "dependence")) -> pd.DataFrame:
    """The edges (client_id, counterparty_id, edge) that join firms in `month` (see the module
    docstring); `include` picks the edge kinds ("control" covers guarantees too when
    "guarantee" is in it)."""
    links = links_as_of(relations, month)
    parts = []
    if "control" in include:
        share = links["share"]
        control = links["kind"].eq("control") & (share.isna() | (share > CONTROL_SHARE))
        parts.append(links.loc[control, [CLIENT_KEY, COUNTERPARTY_KEY]].assign(edge="control"))
    if "guarantee" in include:
        parts.append(links.loc[links["kind"].eq("guarantee"), [CLIENT_KEY, COUNTERPARTY_KEY]].assign(edge="guarantee"))
    if "dependence" in include:
        parts.append(dependence_edges(flows_of(relations, month), dependence_share))
    if not parts:
        return pd.DataFrame({CLIENT_KEY: [], COUNTERPARTY_KEY: [], "edge": []}, dtype="str")
    return pd.concat(parts, ignore_index=True)


def dependence_edges(flows: pd.DataFrame, share: float) -> pd.DataFrame:
    """(client, counterparty) where the pair's flows are at least `share` of the client's."""
    amount = flows["amount"].fillna(0.0).to_numpy(dtype=float)
    c_codes, c_ids = pd.factorize(flows[CLIENT_KEY].astype("str"))
    p_codes, p_ids = pd.factorize(flows[COUNTERPARTY_KEY].astype("str"))
    total = np.bincount(c_codes, weights=amount, minlength=len(c_ids))
    width = max(len(p_ids), 1)
    pairs, inverse = np.unique(c_codes.astype(np.int64) * width + p_codes, return_inverse=True)
    pair_amount = np.bincount(inverse, weights=amount, minlength=len(pairs))
    client, counterparty = pairs // width, pairs % width
    with np.errstate(invalid="ignore", divide="ignore"):
        keep = (pair_amount > 0) & (pair_amount >= share * total[client])
    return pd.DataFrame({CLIENT_KEY: np.asarray(c_ids, dtype=object)[client[keep]],
                         COUNTERPARTY_KEY: np.asarray(p_ids, dtype=object)[counterparty[keep]],
                         "edge": "dependence"})


def connected_groups(client_ids: pd.Series | np.ndarray, edges: pd.DataFrame) -> pd.Series:
    """Group id of each client of `client_ids` (indexed by client id): the smallest client id of
    its connected component under `edges`; edges to ids outside `client_ids` are ignored."""
    ids = pd.Index(pd.unique(pd.Series(np.asarray(client_ids, dtype=object)).astype("str"))).sort_values()
    n, k = len(ids), len(edges)
    # one factorisation of ids and both ends: ids come first, so an id's code is its position
    # and a code from n on is a firm that is not a client
    codes, _ = pd.factorize(pd.concat([pd.Series(ids), edges[CLIENT_KEY].astype("str"),
                                       edges[COUNTERPARTY_KEY].astype("str")], ignore_index=True))
    a, b = codes[n:n + k], codes[n + k:]
    keep = (a >= 0) & (a < n) & (b >= 0) & (b < n)
    if n == 0:
        return pd.Series([], index=ids, name=GROUP_KEY, dtype="str")
    graph = coo_matrix((np.ones(int(keep.sum()), dtype=np.int8), (a[keep], b[keep])), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    # ids are sorted, so the first position of each label is its smallest member
    first = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))
    return pd.Series(ids.to_numpy()[first[labels]], index=ids, name=GROUP_KEY)


def groups_of_month(client_ids: pd.Series | np.ndarray, relations: pd.DataFrame, month: pd.Timestamp, *,
                    dependence_share: float = 0.5) -> pd.Series:
    """`connected_groups` of the clients under every edge kind in `month`."""
    return connected_groups(client_ids, group_edges(relations, month, dependence_share=dependence_share))
