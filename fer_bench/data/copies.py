"""The one notion of "the same image" in fer-bench, and the splits of Training that honour it.

Two images are copies when their mean absolute pixel difference is at most COPY_TOLERANCE grey
levels (JPEG re-encoding of one picture stays under it; two different faces are far above it).
Copies are grouped transitively (connected components), so an image and a re-encoded copy of a
re-encoded copy are one group. FER2013 repeats faces: its Training split holds 1,062 groups of two
or more images (2,342 images), and a split that puts one member of a group on each side scores a
model on what it fitted. Every split fer-bench makes of Training (a fit's hold-out, a search's
hold-out or folds, `cross-fitted`'s folds) keeps each group on one side: `grouped_holdout`,
`grouped_folds`. A run whose model splits Training names the grouping in its spec (GROUPING).

The search is exact, not approximate: two copies' global means, and the means of each of their 4x4
blocks, differ by at most the tolerance (a mean of absolute differences bounds the difference of
means), so only pairs that pass both cheap bounds are compared pixel by pixel.
"""

import math

import numpy as np

COPY_TOLERANCE = 2.0  # grey levels of mean absolute difference
GROUPING = f"copies<={COPY_TOLERANCE:g}"  # the name a spec records for splits grouped by copies
_BLOCK = 4
_groups_of: dict[str, np.ndarray] = {}  # images fingerprint -> the groups of that data set's images, for the process


def copy_groups(dataset) -> np.ndarray:
    """(N,) for every image of `dataset`, the row of the first image of its group of copies (its own
    row where it has no copy). Computed once per process and data set (seconds for FER2013)."""
    key = dataset.images_fingerprint
    if key not in _groups_of:
        _groups_of[key] = groups_of_images(dataset.images)
    return _groups_of[key]


def groups_of_images(images: np.ndarray, tolerance=COPY_TOLERANCE) -> np.ndarray:
    """(N,) the first row of each image's group of copies among `images` (N, h, w) uint8."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(images)
    flat = images.reshape(n, -1)
    _, first, exact = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    distinct = flat[first].astype(np.int16)
    pairs = _near_pairs(distinct, images.shape[1:], tolerance)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(first),) * 2)
    component = connected_components(graph, directed=False)[1][exact.ravel()]
    first_row = np.full(component.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(first_row, component, np.arange(n))
    return first_row[component]


def _near_pairs(distinct, shape, tolerance) -> np.ndarray:
    """(k, 2) the pairs of rows of `distinct` (m, pixels) int16 that are copies at `tolerance`."""
    m = len(distinct)
    height, width = shape
    blocks = distinct.reshape(m, height // _BLOCK, _BLOCK, width // _BLOCK, _BLOCK).mean(axis=(2, 4))
    blocks = blocks.reshape(m, -1).astype(np.float32)
    means = distinct.mean(axis=1)
    order = np.argsort(means, kind="stable")
    reach = np.searchsorted(means[order], means[order] + tolerance, side="right")
    pairs: list[tuple[int, int]] = []
    for position, i in enumerate(order):
        candidates = order[position + 1 : reach[position]]
        candidates = candidates[np.abs(blocks[candidates] - blocks[i]).mean(axis=1) <= tolerance]
        if len(candidates):
            close = np.abs(distinct[candidates] - distinct[i]).mean(axis=1) <= tolerance
            pairs.extend((i, j) for j in candidates[close])
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def straddling(groups: np.ndarray, sides: np.ndarray) -> int:
    """How many groups of copies (`groups`, one per row) have rows on more than one of `sides`."""
    seen: dict[int, set[object]] = {}
    for group, side in zip(groups.tolist(), sides.tolist()):
        seen.setdefault(group, set()).add(side)
    return sum(len(s) > 1 for s in seen.values())


def _by_group(strata, groups):
    """(each row's group index, each group's stratum: its first row's) of rows labelled `strata`,
    groups in the order of their labels; with no `groups`, each row its own group."""
    if groups is None:
        return np.arange(len(strata)), strata
    _, first, index = np.unique(groups, return_index=True, return_inverse=True)
    return index.ravel(), strata[first]


def grouped_holdout(strata, groups, fraction, seed):
    """(positions fitted, positions held out) of rows of classes `strata`: a stratified share
    `fraction` of the groups (at least one per class) held out whole, shuffled by `seed`. Without
    `groups` (each row its own group) it is scikit-learn's stratified train_test_split of the rows,
    row for row what fer-bench made before splits were grouped: runs recorded then can be refitted."""
    from sklearn.model_selection import train_test_split

    group, group_strata = _by_group(strata, groups)
    n_held = max(math.ceil(len(group_strata) * fraction), len(np.unique(group_strata)))
    fitted, held = train_test_split(
        np.arange(len(group_strata)), test_size=n_held, stratify=group_strata, random_state=seed
    )
    return _rows_of(fitted, group), _rows_of(held, group)


def _rows_of(chosen, group):
    """The rows of the groups `chosen`, group by group in that order (a group's rows in row order)."""
    position = np.full(group.max() + 1 if len(group) else 0, -1)
    position[chosen] = np.arange(len(chosen))
    rows = np.flatnonzero(position[group] >= 0)
    return rows[np.argsort(position[group[rows]], kind="stable")]


def grouped_folds(strata, groups, folds, seed) -> np.ndarray:
    """(n,) the fold of each row of classes `strata`: stratified k folds of the groups, shuffled by
    `seed`, each group in one fold. Without `groups`, scikit-learn's StratifiedKFold of the rows."""
    from sklearn.model_selection import StratifiedKFold

    group, group_strata = _by_group(strata, groups)
    fold_of_group = np.empty(len(group_strata), dtype=np.int64)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for fold, (_, held) in enumerate(splitter.split(np.zeros((len(group_strata), 1)), group_strata)):
        fold_of_group[held] = fold
    return fold_of_group[group]
