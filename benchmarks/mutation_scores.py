"""Each mutated module's score in the last `make mutate`, from mutmut's own results (`mutmut results`).

score = detected / (mutants - equivalent), where a mutant is detected when a test failed on it (killed)
or hung until mutmut's time limit (timeout). An equivalent mutant behaves as the code does for every
input the code is given, so no test can fail on it: each is listed below with why. Mutant names number
the mutations of one function in order, so editing a function renames its mutants: check this list
against `mutmut show NAME` after such an edit.

    python -m benchmarks.mutation_scores
"""

import re
import subprocess
import sys
from collections import Counter, defaultdict

from tabulate import tabulate

_BOOL = "asarray without dtype=bool: the inputs are boolean (as documented; every caller passes comparisons)"
_FLOAT = "asarray without dtype=float: the mean, std, product and division below give the same floats for ints"
_NAN = 'float("NAN"): float() reads "nan" in any case'
_INT64 = "np.array of Python ints without dtype=np.int64: numpy makes them int64 (numpy 2; numpy 1 but on Windows)"
_LOCK_MODE = (
    "another mode for a new claim file (0o645, or 0o777 less the umask): its owner opens it read-write "
    "all the same, and nothing reads its mode"
)
_UPGRADE_IDEMPOTENT = (
    "a record of the current schema upgraded anyway: its data carries classes and labels and its hardware "
    "the Keras backend, which override what _upgrade fills, so the same record comes out"
)
_FLOAT64_LATER = (
    "a float64 array where float32 was asked: soft_vote casts each member's probabilities to float64, "
    "and out_of_fold_proba casts the vote to float32"
)
_WEIGHTS_NORMALISED = "the weights are divided by their sum next: ints, or 2.0 each, give the same float64 shares"
_APPLIED_IN_FLOAT64 = (
    "a dtype dropped around Temperature.apply: it scales in float64 whatever it is given, and at 1.0 returns "
    "its input, whose float32 values the other asarray casts to float64 exactly"
)
_ONE_VALUE_EACH = (
    "best_epoch or resumed_at_epoch counted: each holds one value, and every copy's history holds at least one "
    "epoch's metrics, so the longest is the same"
)
_SAME_DRAWS = "rng.integers(n) draws from [0, n) as rng.integers(0, n) does, the same numbers from the same seed"
EQUIVALENT = {
    "fer_bench.scoring.stats.x_mean_std__mutmut_3": _FLOAT,
    "fer_bench.scoring.stats.x_mean_std__mutmut_5": _FLOAT,
    "fer_bench.scoring.stats.x_bootstrap_ci__mutmut_7": _BOOL,
    "fer_bench.scoring.stats.x_bootstrap_ci__mutmut_9": _BOOL,
    "fer_bench.scoring.stats.x_paired_bootstrap_ci__mutmut_8": _BOOL,
    "fer_bench.scoring.stats.x_paired_bootstrap_ci__mutmut_10": _BOOL,
    "fer_bench.scoring.stats.x_paired_bootstrap_ci__mutmut_16": _BOOL,
    "fer_bench.scoring.stats.x_paired_bootstrap_ci__mutmut_18": _BOOL,
    "fer_bench.scoring.stats.x__interval__mutmut_6": _NAN,
    "fer_bench.scoring.stats.x__interval__mutmut_9": _NAN,
    "fer_bench.scoring.stats.x__interval__mutmut_16": _SAME_DRAWS,
    "fer_bench.scoring.stats.x_rank_intervals__mutmut_6": _FLOAT,
    "fer_bench.scoring.stats.x_rank_intervals__mutmut_8": _FLOAT,
    "fer_bench.scoring.stats.x_rank_intervals__mutmut_16": _SAME_DRAWS,
    "fer_bench.scoring.stats.x_rank_intervals__mutmut_36": "accuracy -= noise: the seeds' noise is a normal draw "
    "centred on 0, so subtracting it is adding a draw of the same distribution",
    "fer_bench.scoring.stats.x_rank_intervals__mutmut_40": _FLOAT,
    "fer_bench.scoring.stats.x_rank_intervals__mutmut_42": _FLOAT,
    "fer_bench.scoring.stats.x_mcnemar_exact__mutmut_3": _BOOL,
    "fer_bench.scoring.stats.x_mcnemar_exact__mutmut_5": _BOOL,
    "fer_bench.scoring.stats.x_mcnemar_exact__mutmut_7": _BOOL,
    "fer_bench.scoring.stats.x_mcnemar_exact__mutmut_9": _BOOL,
    "fer_bench.scoring.stats.x_mcnemar_exact__mutmut_27": "p = 1 where b - c == 0: the exact test's p-value is "
    "1 when b == c anyway (and b + c == 0 is b == c == 0)",
    "fer_bench.scoring.stats.x_mcnemar_exact__mutmut_36": "binomtest(b, b + c): 0.5 is binomtest's default p",
    "fer_bench.runs.claims.x__lock__mutmut_8": _LOCK_MODE,
    "fer_bench.runs.claims.x__lock__mutmut_10": _LOCK_MODE,
    "fer_bench.scoring.metrics.x__share__mutmut_17": "np.where(some, whole, 2): the divisor put where the whole "
    "is 0 only keeps that division finite, and the outer np.where drops its quotient",
    "fer_bench.scoring.metrics.x_decode_predictions__mutmut_2": _INT64,
    "fer_bench.scoring.metrics.x_decode_predictions__mutmut_4": _INT64,
    "fer_bench.scoring.metrics.x_decode_predictions__mutmut_10": "_CODES.rindex: each code appears once in _CODES",
    "fer_bench.runs.records.x__upgrade__mutmut_1": _UPGRADE_IDEMPOTENT,
    "fer_bench.runs.records.x__upgrade__mutmut_5": _UPGRADE_IDEMPOTENT,
    "fer_bench.runs.records.x__upgrade__mutmut_6": _UPGRADE_IDEMPOTENT,
    "fer_bench.runs.records.x__upgrade__mutmut_8": _UPGRADE_IDEMPOTENT,
    "fer_bench.runs.fitting.x_fit__mutmut_18": 'validation = "": FitData gets `tuple(validation) if validation '
    'else None`, None for "" as for None',
    "fer_bench.parts.models.ensemble.xǁEnsembleǁfit__mutmut_7": "why_none=None for the ensemble's own "
    "Temperature(1.0): nothing reads it (predict.py rebuilds a recorded ensemble with its own temperatures)",
    "fer_bench.parts.models.ensemble.xǁEnsembleǁfit__mutmut_17": _WEIGHTS_NORMALISED,
    "fer_bench.parts.models.ensemble.xǁEnsembleǁfit__mutmut_19": _WEIGHTS_NORMALISED,
    "fer_bench.parts.models.ensemble.xǁEnsembleǁfit__mutmut_22": _WEIGHTS_NORMALISED,
    "fer_bench.parts.models.ensemble.xǁEnsembleǁ_selection_data__mutmut_21": "astype(None) is astype(float64)",
    "fer_bench.parts.models.ensemble.x__at_rows__mutmut_5": "np.full(..., None, dtype=np.float32) fills NaN",
    "fer_bench.parts.models.ensemble.x__at_rows__mutmut_6": _FLOAT64_LATER,
    "fer_bench.parts.models.ensemble.x__at_rows__mutmut_9": _FLOAT64_LATER,
    "fer_bench.parts.models.ensemble.x_soft_vote__mutmut_13": _APPLIED_IN_FLOAT64,
    "fer_bench.parts.models.ensemble.x_soft_vote__mutmut_15": _APPLIED_IN_FLOAT64,
    "fer_bench.parts.models.ensemble.x_soft_vote__mutmut_18": _APPLIED_IN_FLOAT64,
    "fer_bench.parts.models.ensemble.x_soft_vote__mutmut_20": _APPLIED_IN_FLOAT64,
    "fer_bench.parts.models.cross_fitted.x_assign_folds__mutmut_9": "reshape(len(X), -2): NumPy infers any "
    "negative size, as it does -1",
    "fer_bench.parts.models.cross_fitted.xǁCrossFittedǁout_of_fold_proba__mutmut_22": "held[1] for held[0]: "
    "every copy gives one column per class",
    "fer_bench.parts.models.cross_fitted.x__epochs__mutmut_3": _ONE_VALUE_EACH,
    "fer_bench.parts.models.cross_fitted.x__epochs__mutmut_4": _ONE_VALUE_EACH,
    "fer_bench.parts.models.cross_fitted.x__epochs__mutmut_5": _ONE_VALUE_EACH,
    "fer_bench.parts.models.cross_fitted.x__epochs__mutmut_6": _ONE_VALUE_EACH,
    "fer_bench.runs.records.xǁRecordStoreǁappend__mutmut_43": "os.pread(fd, 2, size - 1): at offset size - 1 "
    "there is one byte left to read, so the same last byte comes back (the size is read under the writers' lock)",
}

DETECTED = ("killed", "timeout")
MODULE = re.compile(r"^(?P<module>.+?)\.x(?:_|ǁ)")  # mutmut's names: module.x_function__mutmut_N, module.xǁClassǁ…


def results() -> dict:
    """{mutant name: status} as mutmut reports them (every mutant, killed ones included)."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.strip().rsplit(": ", 1) for line in out.splitlines() if ": " in line)


def main():
    statuses = results()
    by_module = defaultdict(Counter)
    survivors = []
    for name, status in statuses.items():
        module = MODULE.match(name)["module"]
        if status == "survived" and name in EQUIVALENT:
            status = "equivalent"
        elif status not in DETECTED and status != "not checked":
            survivors.append(f"{name}: {status}")
        by_module[module][status] += 1
    rows = []
    for module, counts in sorted(by_module.items()):
        total, detected = sum(counts.values()), sum(counts[s] for s in DETECTED)
        unchecked = counts["not checked"]
        score = f"{100 * detected / (total - counts['equivalent']):.1f}%" if not unchecked else "not run"
        rows.append(
            [
                module,
                total,
                counts["killed"],
                counts["timeout"],
                counts["survived"],
                counts["equivalent"],
                total - detected - counts["survived"] - counts["equivalent"] - unchecked,
                unchecked,
                score,
            ]
        )
    headers = ["module", "mutants", "killed", "timeout", "survived", "equivalent", "other", "not checked", "score"]
    print(tabulate(rows, headers, tablefmt="github"))
    if survivors:
        print("\nUndetected, not judged equivalent (`mutmut show NAME`):", *survivors, sep="\n  ")


if __name__ == "__main__":
    main()
