"""numba kernels of the fast exact TreeSHAP (see `models._treeshap` for the method).

Compiled with `cache=True`: the first call on a machine compiles (some seconds), later
processes load the compiled code from `__pycache__`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from tierwise.models._treeshap_model import (
    CATEGORICAL_MASK,
    DEFAULT_LEFT_MASK,
    MISSING_NAN,
    MISSING_ZERO,
)

# LightGBM's kZeroThreshold is the float literal 1e-35f, compared in double precision
_ZERO_THRESHOLD = float(np.float32(1e-35))
_INT_LIMIT = 2147483648.0


@njit(cache=True)
def _goes_left(fval, decision, threshold, cat_begin, cat_end, cat_bits):
    """LightGBM `Tree::NumericalDecision` / `CategoricalDecision` (include/LightGBM/tree.h)."""
    if decision & CATEGORICAL_MASK:
        # static_cast<int> truncates toward zero (-0.5 is category 0); negative codes and
        # values beyond int range (x86 gives INT_MIN) go right, as NaN does
        if np.isnan(fval) or fval <= -1.0 or fval >= _INT_LIMIT:
            return False
        cat = int(fval)
        word = cat >> 5
        if word >= cat_end - cat_begin:
            return False
        return (cat_bits[cat_begin + word] >> np.uint32(cat & 31)) & np.uint32(1) == 1
    missing = (decision >> 2) & 3
    if np.isnan(fval) and missing != MISSING_NAN:
        fval = 0.0
    if (missing == MISSING_ZERO and -_ZERO_THRESHOLD <= fval <= _ZERO_THRESHOLD) or (
            missing == MISSING_NAN and np.isnan(fval)):
        return (decision & DEFAULT_LEFT_MASK) != 0
    return fval <= threshold


@njit(cache=True, parallel=True)
def build_tables(leaf_value, leaf_depth, leaf_feat_start, leaf_zero, table_start, table, coef):
    """Fill, for every leaf with a table, G(Q) for every subset Q of its path features.

    With U the leaf's d unique path features, z_j their zero fractions and
    w(s, d) = s! (d - s - 1)! / d!:  table[Q] = v * sum_{S subset of Q} w(|S|, d) prod_{j not in S} z_j.
    `coef[k] = (1 - z_k) / z_k` for each path feature k of the leaf.
    """
    n_leaves = leaf_depth.shape[0]
    for leaf in prange(n_leaves):
        start = table_start[leaf]
        d = leaf_depth[leaf]
        if start < 0 or d == 0:
            continue
        fs = leaf_feat_start[leaf]
        size = 1 << d
        full = size - 1
        weight = np.empty(d + 1)
        # w(s, d) = 1 / (d * C(d - 1, s)); w(d, d) is never used (S is a strict subset)
        binom = 1.0
        for s in range(d):
            weight[s] = 1.0 / (d * binom)
            binom = binom * (d - 1 - s) / (s + 1)
        weight[d] = 0.0
        prod = np.empty(size)  # prod[T] = prod_{j in T} z_j
        count = np.empty(size, np.int64)
        prod[0] = 1.0
        count[0] = 0
        for m in range(1, size):
            low = m & -m
            k = 0
            while (low >> k) != 1:
                k += 1
            prod[m] = prod[m ^ low] * leaf_zero[fs + k]
            count[m] = count[m ^ low] + 1
        g = table[start:start + size]
        for m in range(size):
            g[m] = weight[count[m]] * prod[full ^ m]
        for k in range(d):  # subset sums (zeta transform)
            bit = 1 << k
            for m in range(size):
                if m & bit:
                    g[m] += g[m ^ bit]
        v = leaf_value[leaf]
        for m in range(size):
            g[m] *= v
        for k in range(d):
            z = leaf_zero[fs + k]
            coef[fs + k] = (1.0 - z) / z


@njit(cache=True)
def _leaf_by_polynomial(ot, r, offset, value, d, fs, one, leaf_feature, leaf_zero, weight,
                        poly, poly_k):
    """One leaf's contributions for row r without a table, O(d^2), for deep leaves.

    With P the satisfied path features (one[k] = 1), p = |P| and E_j the elementary symmetric
    polynomials of the z's of P (coefficients of prod_{j in P} (1 + z_j x)):
    feature k not in P gets -v prod_{j not in P} z_j sum_s w(s, d) E_{p-s}; feature k in P
    gets v (1 - z_k) prod_{j not in P} z_j sum_s w(s, d) E'_{p-1-s}, E' the coefficients
    with (1 + z_k x) divided out. No division by a zero fraction: exact when one is 0.
    """
    outside = 1.0
    p = 0
    poly[0] = 1.0
    for k in range(d):
        z = leaf_zero[fs + k]
        if one[k]:
            p += 1
            poly[p] = 0.0
            for j in range(p, 0, -1):
                poly[j] += z * poly[j - 1]
        else:
            outside *= z
    if p < d:
        total = 0.0
        for s_ in range(p + 1):
            total += weight[d, s_] * poly[p - s_]
        g_hit = value * outside * total
    else:
        g_hit = 0.0
    for k in range(d):
        f = offset + leaf_feature[fs + k]
        if not one[k]:
            ot[f, r] -= g_hit
            continue
        z = leaf_zero[fs + k]
        poly_k[0] = 1.0
        for j in range(1, p):
            poly_k[j] = poly[j] - z * poly_k[j - 1]
        total = 0.0
        for s_ in range(p):
            total += weight[d, s_] * poly_k[p - 1 - s_]
        ot[f, r] += value * (1.0 - z) * outside * total


@njit(cache=True)
def _leaf_by_quadrature(ot, offset, leaf_fail, nb, value, d, fs, leaf_feature, leaf_zero,
                        gl_t, gl_w, fq, acc):
    """One leaf's contributions for the block's rows without a table, O(d^2) per row.

    phi_i = v (o_i - z_i) integral_0^1 prod_{j != i} (o_j t + z_j (1 - t)) dt (the polynomial
    form of Linear TreeSHAP): the integrand has degree d - 1, so Gauss-Legendre quadrature
    with d // 2 + 1 nodes is exact. Computed for all rows of the block at once (SIMD).
    """
    nq = d // 2 + 1
    for q in range(nq):
        row = fq[q]
        for r in range(nb):
            row[r] = 1.0
    for k in range(d):  # F(t_q) = prod_j f_j(t_q)
        z = leaf_zero[fs + k]
        bit = np.int64(1) << k
        for q in range(nq):
            t = gl_t[nq, q]
            hit = t + z * (1.0 - t)
            miss = z * (1.0 - t)
            row = fq[q]
            for r in range(nb):
                row[r] *= miss if leaf_fail[r] & bit else hit
    for k in range(d):
        z = leaf_zero[fs + k]
        bit = np.int64(1) << k
        for r in range(nb):
            acc[r] = 0.0
        for q in range(nq):
            t = gl_t[nq, q]
            w = gl_w[nq, q]
            hit = t + z * (1.0 - t)
            miss = z * (1.0 - t)
            row = fq[q]
            for r in range(nb):
                acc[r] += w * row[r] / (miss if leaf_fail[r] & bit else hit)
        orow = ot[offset + leaf_feature[fs + k]]
        up = value * (1.0 - z)
        down = -value * z
        for r in range(nb):
            scale = down if leaf_fail[r] & bit else up
            # scale 0 (z = 0 on a failed condition): the term is 0, whatever 0/0 gave
            orow[r] += 0.0 if scale == 0.0 else scale * acc[r]


@njit(cache=True)
def _decide_block(x, n, decision, threshold, cat_begin, cat_end, cat_bits, go):
    """go[r] = row r goes left at this node, for the n rows of one feature column x."""
    if decision & CATEGORICAL_MASK:
        for r in range(n):
            go[r] = _goes_left(x[r], decision, threshold, cat_begin, cat_end, cat_bits)
        return
    missing = (decision >> 2) & 3
    default_left = (decision & DEFAULT_LEFT_MASK) != 0
    if missing == MISSING_NAN:
        for r in range(n):
            v = x[r]
            go[r] = default_left if np.isnan(v) else v <= threshold
    elif missing == MISSING_ZERO:
        for r in range(n):
            v = x[r]
            v = 0.0 if np.isnan(v) else v
            go[r] = default_left if -_ZERO_THRESHOLD <= v <= _ZERO_THRESHOLD else v <= threshold
    else:
        for r in range(n):
            v = x[r]
            go[r] = (0.0 if np.isnan(v) else v) <= threshold


@njit(cache=True, parallel=True)
def shap_rows(X, out, tree_offset, node_start, leaf_start, node_feature, node_threshold,
              node_decision, node_left_slot, node_right_slot, node_cat_begin, node_cat_end,
              node_mask, cat_bits, leaf_value, leaf_depth, leaf_feat_start, leaf_feature,
              leaf_zero, leaf_path_start, path_node, path_left, path_bit, table_start, table,
              coef, weight, gl_t, gl_w, mask_bits, block):
    """Add every tree's SHAP values of the rows of X to `out` (expected value not included).

    Rows are processed in blocks of `block` rows, in parallel. Within a block the work goes
    tree by tree and, inside a tree, node by node and leaf by leaf over all the block's rows
    (feature-major copies of the block's inputs and outputs), so that the inner loops run over
    contiguous rows (SIMD) and a tree's tables stay in cache while its rows are explained.
    """
    n_rows, n_features = X.shape
    width = out.shape[1]
    n_trees = node_start.shape[0] - 1
    max_slots = 1
    for t in range(n_trees):
        max_slots = max(max_slots, node_start[t + 1] - node_start[t]
                        + leaf_start[t + 1] - leaf_start[t])
    max_depth = 1
    for leaf in range(leaf_depth.shape[0]):
        max_depth = max(max_depth, leaf_depth[leaf])
    n_blocks = (n_rows + block - 1) // block
    for b in prange(n_blocks):
        r0 = b * block
        nb = min(n_rows, r0 + block) - r0
        xt = np.empty((n_features, block))
        for r in range(nb):
            for f in range(n_features):
                xt[f, r] = X[r0 + r, f]
        ot = np.zeros((width, block))
        fail = np.zeros((max_slots, block), np.int64)
        go = np.empty(block, np.bool_)
        hits = np.empty(block, np.uint64)
        one = np.empty(max_depth + 1, np.bool_)
        poly = np.empty(max_depth + 2)
        poly_k = np.empty(max_depth + 2)
        fq = np.empty((gl_t.shape[1], block))
        acc = np.empty(block)
        for t in range(n_trees):
            n0 = node_start[t]
            n_nodes = node_start[t + 1] - n0
            if n_nodes == 0:
                continue
            l0 = leaf_start[t]
            n_leaves = leaf_start[t + 1] - l0
            offset = tree_offset[t]
            for i in range(n_nodes):
                g = n0 + i
                _decide_block(xt[node_feature[g]], nb, node_decision[g], node_threshold[g],
                              node_cat_begin[g], node_cat_end[g], cat_bits, go)
                mask = node_mask[g]
                here = fail[i]
                to_left = fail[node_left_slot[g]]
                to_right = fail[node_right_slot[g]]
                for r in range(nb):
                    m = here[r]
                    gl = go[r]
                    to_left[r] = m if gl else m | mask
                    to_right[r] = m | mask if gl else m
            for j in range(n_leaves):
                leaf = l0 + j
                d = leaf_depth[leaf]
                fs = leaf_feat_start[leaf]
                start = table_start[leaf]
                if start < 0:
                    if d <= mask_bits:
                        _leaf_by_quadrature(ot, offset, fail[n_nodes + j], nb, leaf_value[leaf],
                                            d, fs, leaf_feature, leaf_zero, gl_t, gl_w, fq, acc)
                    else:  # too many path features for a bit mask: follow the path
                        p0 = leaf_path_start[leaf]
                        p1 = leaf_path_start[leaf + 1]
                        for r in range(nb):
                            one[:d] = True
                            for q in range(p0, p1):
                                g = path_node[q]
                                left = _goes_left(xt[node_feature[g], r], node_decision[g],
                                                  node_threshold[g], node_cat_begin[g],
                                                  node_cat_end[g], cat_bits)
                                if left != (path_left[q] == 1):
                                    one[path_bit[q]] = False
                            _leaf_by_polynomial(ot, r, offset, leaf_value[leaf], d, fs, one,
                                                leaf_feature, leaf_zero, weight, poly, poly_k)
                    continue
                # unsigned indices: no negative-index wrap-around code in the inner loops
                full = (np.uint64(1) << np.uint64(d)) - np.uint64(1)
                ustart = np.uint64(start)
                leaf_fail = fail[n_nodes + j]
                for r in range(nb):
                    hits[r] = full & ~np.uint64(leaf_fail[r])
                for k in range(d):
                    orow = ot[offset + leaf_feature[fs + k]]
                    c = coef[fs + k]
                    bit = np.uint64(1) << np.uint64(k)
                    clear = ~bit
                    for r in range(nb):
                        # bit k set: coef_k G(P - k); not set: -G(P) = -G(P - k). One load, no
                        # data-dependent branch (a select between two registers).
                        h = hits[r]
                        orow[r] += (c if h & bit else -1.0) * table[ustart + (h & clear)]
        for r in range(nb):
            for c in range(width):
                out[r0 + r, c] += ot[c, r]


@njit(cache=True)
def shap_few_rows(X, out, tree_offset, node_start, leaf_start, node_feature, node_threshold,
                  node_decision, node_left_slot, node_right_slot, node_cat_begin, node_cat_end,
                  node_mask, cat_bits, leaf_value, leaf_depth, leaf_feat_start, leaf_feature,
                  leaf_zero, leaf_path_start, path_node, path_left, path_bit, table_start, table,
                  coef, weight, gl_t, gl_w, mask_bits, block):
    """`shap_rows` for a few rows (a served request), one row at a time on one thread, with the
    same arithmetic in the same order (the results are bit for bit those of `shap_rows`).

    `shap_rows` lays a block's rows out feature-major and walks them in inner loops, which
    for a single row costs an array view per node and per leaf feature (about 150 us for a
    hundred trees); here the row's node decisions and contributions are plain scalar reads
    and writes. `block` is not used (same arguments as `shap_rows`)."""
    n_rows = X.shape[0]
    width = out.shape[1]
    n_trees = node_start.shape[0] - 1
    max_slots = 1
    for t in range(n_trees):
        max_slots = max(max_slots, node_start[t + 1] - node_start[t]
                        + leaf_start[t + 1] - leaf_start[t])
    max_depth = 1
    for leaf in range(leaf_depth.shape[0]):
        max_depth = max(max_depth, leaf_depth[leaf])
    ot = np.zeros((width, 1))
    fail = np.zeros((max_slots, 1), np.int64)
    one = np.empty(max_depth + 1, np.bool_)
    poly = np.empty(max_depth + 2)
    poly_k = np.empty(max_depth + 2)
    fq = np.empty((gl_t.shape[1], 1))
    acc = np.empty(1)
    for r in range(n_rows):
        for c in range(width):
            ot[c, 0] = 0.0
        fail[0, 0] = 0
        for t in range(n_trees):
            n0 = node_start[t]
            n_nodes = node_start[t + 1] - n0
            if n_nodes == 0:
                continue
            l0 = leaf_start[t]
            n_leaves = leaf_start[t + 1] - l0
            offset = tree_offset[t]
            for i in range(n_nodes):
                g = n0 + i
                gl = _goes_left(X[r, node_feature[g]], node_decision[g], node_threshold[g],
                                node_cat_begin[g], node_cat_end[g], cat_bits)
                m = fail[i, 0]
                mask = node_mask[g]
                fail[node_left_slot[g], 0] = m if gl else m | mask
                fail[node_right_slot[g], 0] = m | mask if gl else m
            for j in range(n_leaves):
                leaf = l0 + j
                d = leaf_depth[leaf]
                fs = leaf_feat_start[leaf]
                start = table_start[leaf]
                if start < 0:
                    if d <= mask_bits:
                        _leaf_by_quadrature(ot, offset, fail[n_nodes + j], 1, leaf_value[leaf],
                                            d, fs, leaf_feature, leaf_zero, gl_t, gl_w, fq, acc)
                    else:
                        one[:d] = True
                        for q in range(leaf_path_start[leaf], leaf_path_start[leaf + 1]):
                            g = path_node[q]
                            left = _goes_left(X[r, node_feature[g]], node_decision[g],
                                              node_threshold[g], node_cat_begin[g],
                                              node_cat_end[g], cat_bits)
                            if left != (path_left[q] == 1):
                                one[path_bit[q]] = False
                        _leaf_by_polynomial(ot, 0, offset, leaf_value[leaf], d, fs, one,
                                            leaf_feature, leaf_zero, weight, poly, poly_k)
                    continue
                full = (np.uint64(1) << np.uint64(d)) - np.uint64(1)
                ustart = np.uint64(start)
                h = full & ~np.uint64(fail[n_nodes + j, 0])
                for k in range(d):
                    bit = np.uint64(1) << np.uint64(k)
                    c = coef[fs + k]
                    ot[offset + leaf_feature[fs + k], 0] += (c if h & bit else -1.0) * table[ustart + (h & ~bit)]
        for c in range(width):
            out[r, c] += ot[c, 0]
