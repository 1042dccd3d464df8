"""Paired comparison of recorded runs on the test images they share (McNemar's exact test), and how
often they agree: an ensemble gains only where its members disagree."""

from dataclasses import dataclass

from fer_bench.data.dataset import UNLABELLED
from fer_bench.errors import FerBenchError
from fer_bench.runs.records import Record
from fer_bench.scoring.metrics import UNCOVERED, decode_predictions
from fer_bench.scoring.stats import mcnemar_exact


@dataclass
class Paired:
    shared: int  # images both runs evaluate
    accuracy_a: float  # on the shared images
    accuracy_b: float
    only_a: int  # images only A gets right
    only_b: int
    p: float


def paired(record_a: Record, record_b: Record, labels, split) -> Paired:
    """A against B on the `split` images both evaluate; `labels` are that split's labels."""
    a = decode_predictions(record_a.predictions[split])
    b = decode_predictions(record_b.predictions[split])
    both = (a != UNCOVERED) & (b != UNCOVERED) & (labels != UNLABELLED)
    a_right, b_right = a[both] == labels[both], b[both] == labels[both]
    only_a, only_b, p = mcnemar_exact(a_right, b_right)
    return Paired(int(both.sum()), float(a_right.mean()), float(b_right.mean()), only_a, only_b, p)


@dataclass
class PairRow:
    """One run paired with the comparison's base: `paired` is base (A) against it (B)."""

    record: Record
    accuracy_all: float  # the run's own, over all the split's images
    paired: Paired


@dataclass
class Comparison:
    base: Record
    split: str
    rows: list  # PairRow, in the order the runs were given
    agreement: list  # [i][j]: share of the images runs i and j both evaluate on which they predict the same class


def agreement(records, split) -> list:
    """The pairwise agreement matrix of `records` on `split` (1.0 on the diagonal)."""
    predictions = [decode_predictions(record.predictions[split]) for record in records]
    matrix = [[1.0] * len(records) for _ in records]
    for i, a in enumerate(predictions):
        for j in range(i + 1, len(predictions)):
            b = predictions[j]
            both = (a != UNCOVERED) & (b != UNCOVERED)
            matrix[i][j] = matrix[j][i] = float((a[both] == b[both]).mean()) if both.any() else float("nan")
    return matrix


def compare(chosen, labels, against, split) -> Comparison:
    """Every chosen record against the first, paired on their shared `split` images; `labels` are
    that split's true labels, `against` what the records must be scored against
    (Record.scored_against)."""
    for record in chosen:
        if record.scored_against != against:
            raise FerBenchError(
                f"run {record.run_id} ({record.experiment}) was tested on other data or labels "
                f"(fingerprint {record.data.fingerprint}, {record.data.labels} labels"
                + (", an evaluation" if record.evaluation else "")
                + f"; comparing on {against})"
            )
        if split not in record.predictions:
            raise FerBenchError(f"run {record.run_id} ({record.experiment}) has no {split} predictions")
    base = chosen[0]
    rows = [
        PairRow(other, other.metrics[split].accuracy_all, paired(base, other, labels, split)) for other in chosen[1:]
    ]
    return Comparison(base, split, rows, agreement(chosen, split))
