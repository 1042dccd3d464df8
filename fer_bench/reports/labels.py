"""The two label reports `fer-bench labels` writes into results/labels/:

- `ferplus.md`: how FER2013's one label an image agrees with the majority of FER+'s ten votes, per
  split and per class, a flip matrix (figures/), the images FER+ leaves without a label, and the
  leaderboard's top runs scored under both yardsticks, with McNemar on the images they share.
- `duplicates.md`: test images with a copy in Training at each tolerance, identical images with
  conflicting labels, blank images, and what the copies are worth to the top runs.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tabulate import tabulate

from fer_bench.analysis import duplicates, yardsticks
from fer_bench.analysis.boards import boards
from fer_bench.analysis.pairs import Paired, paired
from fer_bench.data import ferplus
from fer_bench.data.dataset import FER2013_CLASSES, TRAIN_SPLIT, UNLABELLED, Dataset
from fer_bench.data.ferplus import CONTEMPT, NO_IMAGE, NO_MAJORITY, NOT_A_FACE
from fer_bench.reports import figures
from fer_bench.reports.base import Report
from fer_bench.runs import layout
from fer_bench.runs.records import REPORT_SPLIT
from fer_bench.scoring.metrics import UNCOVERED

TOP_RUNS = 10
TITLE = "Label reports (FER+ against FER2013's labels; test images copied from Training)"


def _pct(value):
    return f"{100 * value:.1f}"


def _table(rows, headers):
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def _top_runs(records, dataset: Dataset):
    """The FER2013 board of `dataset` (its best runs first) and the FER+ board of its images."""
    found = boards(records)
    fer2013 = next((b for b in found if b.data.fingerprint == dataset.fingerprint), None)
    learnt = next((b for b in found if b.ferplus and b.data.images == dataset.images_fingerprint), None)
    return fer2013, learnt


def _name(record):
    return f"`{record.experiment}` seed {record.seed} (`{record.run_id}`)"


@dataclass
class SplitAgreement:
    split: str
    n: int
    scored: int  # images whose FER+ majority is one of FER2013's 7 classes
    outcomes: list  # images with a CONTEMPT, NO_MAJORITY, NOT_A_FACE, NO_IMAGE outcome
    agreement: float | None  # FER2013 label = FER+ majority, on the scored images


@dataclass
class ClassAgreement:
    name: str
    per_split: list  # (agreement, images scored) per split, None where none is scored
    flips: list | None  # REPORT_SPLIT: the 3 commonest (FER+ outcome, images) where not the same; None: none


@dataclass
class BothYardsticks:
    """The FER2013 board's top runs under both yardsticks, on REPORT_SPLIT."""

    top: list  # records, best first on the board
    n_images: int
    n_ferplus: int  # images whose FER+ majority is one of the 7
    ranking: dict  # run id -> (FER+ Score, FER+ rank)
    pairs: list  # (a, b, Paired on FER2013's labels, Paired on the FER+ majority), ordered differently


@dataclass
class FerplusInfo:
    layout: str  # of the data set
    name: str  # of the data set (data_name): reports name no machine's path
    fingerprint: str
    split_names: list
    per_split: list  # SplitAgreement
    per_class: list  # ClassAgreement
    flips: dict  # split -> (FER2013 classes, FER+ outcomes) counts
    runs: BothYardsticks | None


class FerplusReport(Report[FerplusInfo]):
    folder = layout.LABELS
    title = TITLE
    link_order = 40

    def compute(self, dataset: Dataset, outcomes, records, yard: yardsticks.Yardsticks) -> FerplusInfo:
        """`outcomes`: each image's ferplus.majority_outcomes."""
        as_fer2013 = yardsticks.as_fer2013(yardsticks.majority_labels(outcomes))
        agrees = as_fer2013 == dataset.labels
        per_split = []
        for split in dataset.split_names():
            at = dataset.splits == split
            scored = at & (as_fer2013 != UNCOVERED)
            per_split.append(
                SplitAgreement(
                    split,
                    int(at.sum()),
                    int(scored.sum()),
                    [int((at & (outcomes == o)).sum()) for o in (CONTEMPT, NO_MAJORITY, NOT_A_FACE, NO_IMAGE)],
                    float(agrees[scored].mean()) if scored.any() else None,
                )
            )
        per_class = []
        for code, name in enumerate(FER2013_CLASSES):
            shares = []
            for split in dataset.split_names():
                scored = (dataset.splits == split) & (dataset.labels == code) & (as_fer2013 != UNCOVERED)
                shares.append((float(agrees[scored].mean()), int(scored.sum())) if scored.any() else None)
            test = (dataset.splits == REPORT_SPLIT) & (dataset.labels == code) & (as_fer2013 != UNCOVERED) & ~agrees
            flips = None
            if test.any():
                counts = np.bincount(outcomes[test], minlength=len(ferplus.OUTCOMES))
                flips = [(ferplus.OUTCOMES[o], int(counts[o])) for o in np.argsort(-counts)[:3] if counts[o]]
            per_class.append(ClassAgreement(name, shares, flips))
        matrices = {}
        for split in (REPORT_SPLIT, TRAIN_SPLIT):
            at = dataset.splits == split
            if at.any():
                matrices[split] = np.zeros((len(FER2013_CLASSES), len(ferplus.OUTCOMES)), dtype=int)
                np.add.at(matrices[split], (dataset.labels[at], outcomes[at]), 1)
        return FerplusInfo(
            dataset.layout,
            dataset.name,
            dataset.fingerprint,
            dataset.split_names(),
            per_split,
            per_class,
            matrices,
            _both_yardsticks(records, dataset, yard),
        )

    def file_name(self, info) -> str:
        return "ferplus.md"

    def figures(self, info: FerplusInfo):
        for split, matrix in info.flips.items():
            title = f"{split}: FER2013 label (rows) -> FER+ majority (columns)"
            yield f"figures/flips-{split}.png", figures.flip_matrix(matrix, FER2013_CLASSES, ferplus.OUTCOMES, title)

    def markdown(self, info: FerplusInfo, command: str) -> str:
        split_rows = [
            [
                s.split,
                s.n,
                s.scored,
                *s.outcomes,
                _pct(s.outcomes[1] / s.n),
                _pct(s.agreement) if s.agreement is not None else "",
            ]
            for s in info.per_split
        ]
        class_rows = []
        for c in info.per_class:
            row = [c.name] + [f"{_pct(share[0])} ({share[1]})" if share else "" for share in c.per_split]
            if c.flips is not None:
                row.append(", ".join(f"{outcome} {n}" for outcome, n in c.flips))
            class_rows.append(row)
        flip_figures = [f"![{split} flip matrix](figures/flips-{split}.png)" for split in info.flips]
        lines = [
            "# FER2013's labels against the FER+ majority",
            "",
            f"Generated by `{command}` from the data set ({info.layout} `{info.name}`, fingerprint "
            f"`{info.fingerprint}`), the FER+ votes and the run records. Do not edit by hand.",
            "",
            "FER+ (Barsoum et al. 2016) asked ten annotators about every FER2013 image. Its majority label is the "
            "emotion with more than half of the votes once emotions with a single vote are dropped "
            "(fer_bench/data/ferplus.py, as Microsoft's reference code). The seven emotions FER2013 and FER+ share "
            "are compared; FER+'s contempt, a majority of `unknown` or no clear majority, not-a-face, and the rows "
            "FER+ gives no image are counted apart.",
            "",
            "## Per split",
            "",
            _table(
                split_rows,
                [
                    "split",
                    "images",
                    "FER+ majority is one of the 7",
                    "contempt",
                    "no clear majority",
                    "not a face",
                    "no image in FER+",
                    "no clear majority %",
                    "FER2013 label = FER+ majority %",
                ],
            ),
            "",
            "## Per FER2013 class",
            "",
            "Share of the images of each FER2013 label whose FER+ majority is the same emotion (images scored), "
            f"and where the other {REPORT_SPLIT} images went:",
            "",
            _table(
                class_rows,
                [
                    "FER2013 label",
                    *[f"{s} agreement %" for s in info.split_names],
                    f"{REPORT_SPLIT}: most common FER+ majority when not the same",
                ],
            ),
            "",
            "## Flip matrices",
            "",
            "Each row: the images of one FER2013 label, by their FER+ outcome (share of the row, count).",
            "",
            *[line for figure in flip_figures for line in (figure, "")],
            *_runs_section(info.runs),
        ]
        return "\n".join(lines)


def _both_yardsticks(records, dataset, yard) -> BothYardsticks | None:
    board, _ = _top_runs(records, dataset)
    split = REPORT_SPLIT
    if board is None or split not in yard.splits:
        return None
    measured = yard.splits[split]
    top = board.runs[:TOP_RUNS]
    ranking = yardsticks.ferplus_ranking(top, measured, split)
    truth = np.where(measured.ferplus_as_fer2013 == UNCOVERED, UNLABELLED, measured.ferplus_as_fer2013)
    pairs = [
        (a, b, paired(a, b, measured.fer2013, split), paired(a, b, truth, split))
        for i, a in enumerate(top)
        for b in top[i + 1 :]
        if ranking[b.run_id][1] < ranking[a.run_id][1]
    ]
    return BothYardsticks(top, len(measured.fer2013), ranking[top[0].run_id][0].n, ranking, pairs)


def _difference(result: Paired):
    return f"{100 * (result.accuracy_a - result.accuracy_b):+.2f}"


def _runs_section(runs: BothYardsticks | None):
    split = REPORT_SPLIT
    if runs is None:
        return ["## Runs under both yardsticks", "", "_No FER2013 run of this data set is recorded._", ""]
    ranking = runs.ranking
    rows = [
        [rank, _name(r), _pct(r.metrics[split].accuracy_all), _pct(ranking[r.run_id][0].accuracy), ranking[r.run_id][1]]
        for rank, r in enumerate(runs.top, start=1)
    ]
    pair_rows = [
        [_name(a), _name(b), old.shared, _difference(old), f"{old.p:.2g}", new.shared, _difference(new), f"{new.p:.2g}"]
        for a, b, old, new in runs.pairs
    ]
    lines = [
        f"## The leaderboard's top {len(runs.top)} runs under both yardsticks ({split})",
        "",
        f"FER2013: accuracy over all {runs.n_images} images (the board's ranking). FER+: accuracy "
        f"against the FER+ majority on the {runs.n_ferplus} images where it is one of FER2013's seven emotions.",
        "",
        _table(rows, ["FER2013 rank", "run", "FER2013 acc. %", "FER+ acc. %", "FER+ rank"]),
        "",
        "Pairs the two yardsticks order differently, each paired on the images both runs evaluate (McNemar's "
        "exact test; difference = first minus second):",
        "",
    ]
    if not pair_rows:
        return lines + ["_None: both yardsticks order these runs the same way._", ""]
    return lines + [
        _table(
            pair_rows,
            ["run", "against", "FER2013: shared images", "difference", "p", "FER+: shared images", "difference", "p"],
        ),
        "",
    ]


@dataclass
class Tolerance:
    split: str
    tolerance: float
    found: int  # test images with a copy at this tolerance
    added: int  # over the previous tolerance
    share: float


@dataclass
class CopiesWorth:
    """A top run on the test images with a copy in Training and on the others (clean)."""

    record: object
    labels: str
    copies: yardsticks.Score
    clean: yardsticks.Score


@dataclass
class DuplicatesInfo:
    layout: str  # of the data set
    name: str  # of the data set (data_name)
    fingerprint: str
    tolerances: list  # Tolerance
    n_copied: int
    n_same_label: int  # of those, the images with their copy's label
    n_groups: int  # groups of identical images
    conflicting: list  # ([split/row of each image], [its label]) of the groups with different labels
    n_within: int  # conflicting groups with the conflict inside one split
    blank: list  # split/row of the blank images
    blank_per_split: dict  # split -> blank images
    worth: list  # CopiesWorth, of the top runs; empty without yardsticks on REPORT_SPLIT or runs


def _row_name(dataset, i):
    return f"{dataset.splits[i]}/{Path(str(dataset.ids[i])).stem}"


class DuplicatesReport(Report[DuplicatesInfo]):
    folder = layout.LABELS
    title = TITLE
    link_order = 40

    def compute(self, dataset: Dataset, records, yard, copies: duplicates.Copies) -> DuplicatesInfo:
        tolerances = []
        for split in dataset.test_splits():
            at = dataset.splits == split
            before = 0
            for tolerance in duplicates.TOLERANCES:
                found = int((at & copies.copied(tolerance)).sum())
                tolerances.append(Tolerance(split, tolerance, found, found - before, found / at.sum()))
                before = found
        copied = copies.copied()
        same_label = copied & (dataset.labels == dataset.labels[np.maximum(copies.nearest, 0)])
        blank = duplicates.blank(dataset)
        groups = duplicates.identical_groups(dataset)
        conflicting = [g for g in groups if len(set(dataset.labels[g].tolist())) > 1]
        named = [
            ([_row_name(dataset, i) for i in g], [dataset.classes[dataset.labels[i]] for i in g]) for g in conflicting
        ]
        return DuplicatesInfo(
            dataset.layout,
            dataset.name,
            dataset.fingerprint,
            tolerances,
            int(copied.sum()),
            int(same_label.sum()),
            len(groups),
            named,
            sum(_conflict_within(dataset, g) for g in conflicting),
            [_row_name(dataset, i) for i in np.flatnonzero(blank)],
            {split: int((blank & (dataset.splits == split)).sum()) for split in dataset.split_names()},
            _copies_worth(records, dataset, yard),
        )

    def file_name(self, info) -> str:
        return "duplicates.md"

    def markdown(self, info: DuplicatesInfo, command: str) -> str:
        tolerance_rows = [
            [
                t.split,
                f"{t.tolerance:g}" + (" (copy tolerance)" if t.tolerance == duplicates.COPY_TOLERANCE else ""),
                t.found,
                f"+{t.added}",
                _pct(t.share),
            ]
            for t in info.tolerances
        ]
        conflict_rows = [[", ".join(names), ", ".join(labels)] for names, labels in info.conflicting]
        per_split = ", ".join(f"{split} {n}" for split, n in info.blank_per_split.items())
        lines = [
            "# Copies of test images in Training, conflicting duplicates, blank images",
            "",
            f"Generated by `{command}` from the data set ({info.layout} `{info.name}`, fingerprint "
            f"`{info.fingerprint}`) and the run records. Do not edit by hand.",
            "",
            "Found on the decoded 48x48 pixels (the csv and the JPEG folders give the same answer within the "
            "tolerance): a test image has a copy in Training at tolerance t when the mean absolute difference "
            "of its pixels from a Training image is at most t grey levels (0: the same pixels). Candidates are "
            f"the {duplicates.CANDIDATES} nearest Training images on 12x12 block means, each then compared at full "
            "resolution (fer_bench/analysis/duplicates.py). The **clean** accuracy on the leaderboard counts the "
            f"test images with no copy at tolerance {duplicates.COPY_TOLERANCE:g}.",
            "",
            "## Test images with a copy in Training",
            "",
            _table(
                tolerance_rows,
                ["split", "tolerance (grey levels)", "images with a copy", "added by this tolerance", "share %"],
            ),
            "",
            f"Of the {info.n_copied} test images with a copy, {info.n_same_label} carry the same FER2013 label "
            "as their copy: a model that remembers Training gets those right without recognising anything.",
            "",
            "## Identical images with different labels",
            "",
            f"{info.n_groups} groups of two or more images have the same pixels; {len(info.conflicting)} of them "
            f"carry different labels, {info.n_within} with the conflict inside one split:",
            "",
            _table(conflict_rows, ["images (split/row)", "labels"]) if conflict_rows else "_None._",
            "",
            "## Blank images",
            "",
            f"Images whose pixels vary by less than {duplicates.BLANK_STD:g} grey level (standard deviation): "
            + f"{len(info.blank)} ({per_split}): "
            + (", ".join(info.blank) or "none")
            + ".",
            "",
            *_copies_section(info.worth),
        ]
        return "\n".join(lines)


def _conflict_within(dataset, group):
    """Whether two images of `group` in the same split carry different labels."""
    splits = dataset.splits[group]
    return any(len(set(dataset.labels[group[splits == split]].tolist())) > 1 for split in set(splits.tolist()))


def _copies_worth(records, dataset, yard) -> list:
    split = REPORT_SPLIT
    if split not in yard.splits:
        return []
    measured = yard.splits[split]
    fer2013, learnt = _top_runs(records, dataset)
    runs = (fer2013.runs[:TOP_RUNS] if fer2013 else []) + (learnt.runs[:TOP_RUNS] if learnt else [])
    return [
        CopiesWorth(
            record,
            record.data.labels,
            yardsticks.copied_score(record, measured, split),
            yardsticks.clean_score(record, measured, split),
        )
        for record in runs
    ]


def _copies_section(worth):
    split = REPORT_SPLIT
    if not worth:
        return []
    rows = [
        [
            _name(w.record),
            w.labels,
            _pct(w.record.metrics[split].accuracy_all),
            f"{_pct(w.copies.accuracy)} ({w.copies.n})",
            f"{_pct(w.clean.accuracy)} ({w.clean.n})",
            f"{100 * (w.copies.accuracy - w.clean.accuracy):+.1f}",
        ]
        for w in worth
    ]
    return [
        f"## What the copies are worth ({split})",
        "",
        "Each run's accuracy on the test images with a copy in Training and on the others (clean), against "
        "the labels it was trained on (FER+ runs: the FER+ majority, images without one left out):",
        "",
        _table(
            rows,
            [
                "run",
                "labels",
                "acc. all images %",
                "acc. on copies % (images)",
                "clean acc. % (images)",
                "copies minus clean",
            ],
        ),
        "",
    ]
