"""A LightGBM booster flattened into numpy arrays for the TreeSHAP kernels.

The model is read from `Booster.model_to_string()` (the canonical text format, thresholds
written with full double precision) and laid out tree after tree:

- internal nodes: split feature, threshold, decision bits (categorical, default-left, missing
  type None/Zero/NaN), children (>= 0 internal node, < 0 leaf `~index`), the categorical
  bitset range, the cover (`internal_count`) and the *bit* of the node: the position of its
  feature among the unique features on the path from the root (first occurrence order), so
  that one bit mask per leaf says which of the leaf's path conditions a row satisfies;
- leaves: value, cover (`leaf_count`), the unique features on the path with their zero
  fractions (product of the cover ratios of the path's nodes on that feature).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numba import njit

from tierwise.features import DataError

logger = logging.getLogger(__name__)

# decision_type bits (LightGBM include/LightGBM/tree.h)
CATEGORICAL_MASK = 1
DEFAULT_LEFT_MASK = 2
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2


@dataclass(frozen=True)
class FlatModel:
    """All trees of a booster as flat arrays (see the module docstring)."""

    n_features: int
    n_outputs: int  # num_tree_per_iteration: 1 for binary/regression, K for multiclass
    tree_output: np.ndarray  # (T,) int64: which output (class) a tree adds to
    node_start: np.ndarray  # (T+1,) int64: tree t's internal nodes are node_start[t]:[t+1]
    leaf_start: np.ndarray  # (T+1,) int64
    node_feature: np.ndarray  # (N,) int64
    node_threshold: np.ndarray  # (N,) float64
    node_decision: np.ndarray  # (N,) int64 decision_type bits
    node_left: np.ndarray  # (N,) int64 local child code
    node_right: np.ndarray  # (N,) int64
    node_cat_begin: np.ndarray  # (N,) int64 range into cat_bits (categorical nodes only)
    node_cat_end: np.ndarray  # (N,) int64
    node_bit: np.ndarray  # (N,) int64 bit of the node's feature on its path
    node_mask: np.ndarray  # (N,) int64 1 << node_bit (0 beyond 62: such leaves use the path)
    node_left_slot: np.ndarray  # (N,) int64 child as a slot: node i -> i, leaf j -> n_nodes + j
    node_right_slot: np.ndarray  # (N,) int64
    cat_bits: np.ndarray  # (C,) uint32 bitsets of all categorical splits
    leaf_value: np.ndarray  # (L,) float64
    leaf_depth: np.ndarray  # (L,) int64 number of unique features on the path
    leaf_feat_start: np.ndarray  # (L+1,) int64 range into leaf_feature / leaf_zero
    leaf_feature: np.ndarray  # (sum depth,) int64 unique path features in bit order
    leaf_zero: np.ndarray  # (sum depth,) float64 zero fraction of each
    leaf_path_start: np.ndarray  # (L+1,) int64 range into path_node / path_left / path_bit
    path_node: np.ndarray  # internal nodes (global index) from the root to each leaf
    path_left: np.ndarray  # 1 when the path goes left at that node
    path_bit: np.ndarray  # the node's unique-feature position on the leaf's path
    expected_value: np.ndarray  # (n_outputs,) float64: sum of the trees' expected values

    @property
    def n_trees(self) -> int:
        return len(self.tree_output)

    @property
    def max_nodes(self) -> int:
        return int(np.diff(self.node_start).max(initial=0))

    @property
    def max_leaves(self) -> int:
        return int(np.diff(self.leaf_start).max(initial=1))

    @property
    def max_depth(self) -> int:
        return int(self.leaf_depth.max(initial=0))


def _numbers(fields: dict[str, str], key: str, dtype: type) -> np.ndarray:
    text = fields.get(key, "").strip()
    if not text:
        return np.empty(0, dtype=dtype)
    return np.array(text.split(" "), dtype=np.float64 if dtype is float else np.int64).astype(dtype)


def _split_trees(model_text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    head_text, _, rest = model_text.partition("\nTree=")
    trees_text = ("Tree=" + rest).split("end of trees", 1)[0]
    header = dict(line.split("=", 1) for line in head_text.splitlines() if "=" in line)
    trees = []
    for block in trees_text.split("Tree=")[1:]:
        lines = block.splitlines()[1:]
        trees.append(dict(line.split("=", 1) for line in lines if "=" in line))
    return header, trees


@dataclass
class _Builder:
    node_feature: list
    node_threshold: list
    node_decision: list
    node_left: list
    node_right: list
    node_cat_begin: list
    node_cat_end: list
    cat_bits: list
    internal_count: list
    leaf_value: list
    leaf_count: list


def _parents_first(feature, threshold, decision, left, right, internal_count):
    """Renumber internal nodes breadth-first unless every parent already precedes its children.

    LightGBM numbers a node when it is split, so parents come first; the kernel relies on it.
    """
    idx = np.arange(len(left))
    if np.all((left < 0) | (left > idx)) and np.all((right < 0) | (right > idx)):
        return feature, threshold, decision, left, right, internal_count
    order = [0]
    for node in order:
        order.extend(int(c) for c in (left[node], right[node]) if c >= 0)
    new_index = np.empty(len(order), np.int64)
    new_index[order] = np.arange(len(order))

    def remap(children: np.ndarray) -> np.ndarray:
        return np.where(children >= 0, new_index[np.maximum(children, 0)], children)[order]

    return (feature[order], threshold[order], decision[order], remap(left), remap(right),
            internal_count[order])


def _add_tree(b: _Builder, tree: dict[str, str], index: int) -> float:
    """Append one tree; return its expected value (cover-weighted mean of leaf values)."""
    if tree.get("is_linear", "0").strip() not in ("", "0"):
        raise DataError(f"tree {index} of the model is a linear tree (linear_tree=true); "
                        "tree_shap supports constant-leaf trees only")
    n_leaves = int(tree["num_leaves"])
    values = _numbers(tree, "leaf_value", float)
    leaf_count = _numbers(tree, "leaf_count", float)
    if n_leaves == 1:
        b.leaf_value.append(values[:1])
        b.leaf_count.append(np.ones(1))
        return float(values[0])
    feature = _numbers(tree, "split_feature", np.int64)
    threshold = _numbers(tree, "threshold", float)
    decision = _numbers(tree, "decision_type", np.int64)
    left = _numbers(tree, "left_child", np.int64)
    right = _numbers(tree, "right_child", np.int64)
    internal_count = _numbers(tree, "internal_count", float)
    n_nodes = n_leaves - 1
    feature, threshold, decision, left, right, internal_count = _parents_first(
        feature, threshold, decision, left, right, internal_count)
    cat_begin = np.zeros(n_nodes, np.int64)
    cat_end = np.zeros(n_nodes, np.int64)
    if int(tree.get("num_cat", "0")) > 0:
        boundaries = _numbers(tree, "cat_boundaries", np.int64)
        bits = _numbers(tree, "cat_threshold", np.int64).astype(np.uint32)
        offset = sum(len(c) for c in b.cat_bits)
        b.cat_bits.append(bits)
        for i in np.flatnonzero(decision & CATEGORICAL_MASK):
            k = int(threshold[i])
            cat_begin[i] = offset + boundaries[k]
            cat_end[i] = offset + boundaries[k + 1]

    b.node_feature.append(feature)
    b.node_threshold.append(threshold)
    b.node_decision.append(decision)
    b.node_left.append(left)
    b.node_right.append(right)
    b.node_cat_begin.append(cat_begin)
    b.node_cat_end.append(cat_end)
    b.internal_count.append(internal_count)
    b.leaf_value.append(values)
    b.leaf_count.append(leaf_count)
    return float(np.sum(leaf_count / internal_count[0] * values))


@njit(cache=True)
def walk_paths(node_start, leaf_start, feature, left, right, internal_count, leaf_count):
    """Root-to-leaf paths of every leaf: nodes, directions, unique features, zero fractions.

    A feature tested again further down the path keeps the position (bit) of its first test;
    its zero fraction is the product of the cover ratios of all its tests.
    """
    n_nodes = feature.shape[0]
    n_leaves = leaf_count.shape[0]
    parent = np.full(n_nodes, -1, np.int64)
    node_len = np.zeros(n_nodes, np.int64)
    leaf_parent = np.full(n_leaves, -1, np.int64)
    leaf_len = np.zeros(n_leaves, np.int64)
    leaf_tree = np.zeros(n_leaves, np.int64)
    for t in range(node_start.shape[0] - 1):
        n0 = node_start[t]
        l0 = leaf_start[t]
        for j in range(leaf_start[t + 1] - l0):
            leaf_tree[l0 + j] = t
        for i in range(node_start[t + 1] - n0):
            g = n0 + i
            for c in (left[g], right[g]):
                if c >= 0:
                    parent[n0 + c] = g
                    node_len[n0 + c] = node_len[g] + 1
                else:
                    leaf_parent[l0 + ~c] = g
                    leaf_len[l0 + ~c] = node_len[g] + 1
    path_start = np.zeros(n_leaves + 1, np.int64)
    for leaf in range(n_leaves):
        path_start[leaf + 1] = path_start[leaf] + leaf_len[leaf]
    n_path = path_start[n_leaves]
    path_node = np.empty(n_path, np.int64)
    path_left = np.empty(n_path, np.int64)
    path_bit = np.empty(n_path, np.int64)
    ratio = np.empty(n_path)
    node_bit = np.zeros(n_nodes, np.int64)
    depth = np.zeros(n_leaves, np.int64)
    feats = np.empty(n_path, np.int64)  # per leaf at path_start: unique features, then compacted
    zeros = np.empty(n_path)
    for leaf in range(n_leaves):
        t = leaf_tree[leaf]
        n0 = node_start[t]
        p0 = path_start[leaf]
        child_code = ~(leaf - leaf_start[t])
        child_cover = leaf_count[leaf]
        g = leaf_parent[leaf]
        for pos in range(p0 + leaf_len[leaf] - 1, p0 - 1, -1):
            path_node[pos] = g
            path_left[pos] = 1 if left[g] == child_code else 0
            ratio[pos] = child_cover / internal_count[g]
            child_code = g - n0
            child_cover = internal_count[g]
            g = parent[g]
        d = 0
        for pos in range(p0, p0 + leaf_len[leaf]):
            f = feature[path_node[pos]]
            k = 0
            while k < d and feats[p0 + k] != f:
                k += 1
            if k == d:
                feats[p0 + d] = f
                zeros[p0 + d] = 1.0
                d += 1
            zeros[p0 + k] *= ratio[pos]
            path_bit[pos] = k
            node_bit[path_node[pos]] = k
        depth[leaf] = d
    feat_start = np.zeros(n_leaves + 1, np.int64)
    for leaf in range(n_leaves):
        feat_start[leaf + 1] = feat_start[leaf] + depth[leaf]
    leaf_feature = np.empty(feat_start[n_leaves], np.int64)
    leaf_zero = np.empty(feat_start[n_leaves])
    for leaf in range(n_leaves):
        for k in range(depth[leaf]):
            leaf_feature[feat_start[leaf] + k] = feats[path_start[leaf] + k]
            leaf_zero[feat_start[leaf] + k] = zeros[path_start[leaf] + k]
    return (node_bit, depth, feat_start, leaf_feature, leaf_zero, path_start, path_node,
            path_left, path_bit)


def _cat(parts: list, dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype)


def flatten_model(model_text: str) -> FlatModel:
    """Parse `Booster.model_to_string()` into a `FlatModel`."""
    header, trees = _split_trees(model_text)
    n_features = int(header["max_feature_idx"]) + 1
    n_outputs = int(header.get("num_tree_per_iteration", "1"))
    b = _Builder(*([] for _ in range(11)))
    expected = np.zeros(n_outputs)
    node_counts, leaf_counts = [], []
    for t, tree in enumerate(trees):
        expected[t % n_outputs] += _add_tree(b, tree, t)
        leaf_counts.append(int(tree["num_leaves"]))
        node_counts.append(leaf_counts[-1] - 1)
    node_start = np.concatenate([[0], np.cumsum(node_counts, dtype=np.int64)])
    leaf_start = np.concatenate([[0], np.cumsum(leaf_counts, dtype=np.int64)])
    left, right = _cat(b.node_left, np.int64), _cat(b.node_right, np.int64)
    node_feature = _cat(b.node_feature, np.int64)
    (node_bit, depth, leaf_feat_start, leaf_feature, leaf_zero, leaf_path_start, path_node,
     path_left, path_bit) = walk_paths(node_start, leaf_start, node_feature, left, right,
                                       _cat(b.internal_count, np.float64),
                                       _cat(b.leaf_count, np.float64))
    tree_nodes = np.repeat(np.diff(node_start), np.diff(node_start))
    return FlatModel(
        n_features=n_features,
        n_outputs=n_outputs,
        tree_output=np.arange(len(trees), dtype=np.int64) % n_outputs,
        node_start=node_start,
        leaf_start=leaf_start,
        node_feature=node_feature,
        node_threshold=_cat(b.node_threshold, np.float64),
        node_decision=_cat(b.node_decision, np.int64),
        node_left=left,
        node_right=right,
        node_cat_begin=_cat(b.node_cat_begin, np.int64),
        node_cat_end=_cat(b.node_cat_end, np.int64),
        node_bit=node_bit,
        node_mask=np.where(node_bit < 63, np.left_shift(1, np.minimum(node_bit, 62)), 0),
        node_left_slot=np.where(left >= 0, left, tree_nodes + ~left),
        node_right_slot=np.where(right >= 0, right, tree_nodes + ~right),
        cat_bits=_cat(b.cat_bits, np.uint32),
        leaf_value=_cat(b.leaf_value, np.float64),
        leaf_depth=depth,
        leaf_feat_start=leaf_feat_start,
        leaf_feature=leaf_feature,
        leaf_zero=leaf_zero,
        leaf_path_start=leaf_path_start,
        path_node=path_node,
        path_left=path_left,
        path_bit=path_bit,
        expected_value=expected,
    )
