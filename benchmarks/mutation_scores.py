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

EQUIVALENT = {}

DETECTED = ("killed", "timeout")
MODULE = re.compile(r"^(?P<module>.+?)\.x(?:_|ǁ)")  # mutmut's names: module.x_function__mutmut_N, module.xǁClassǁ…


def results() -> dict:
    """{mutant name: status} as mutmut reports them (every mutant, killed ones included)."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
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
        rows.append([module, total, counts["killed"], counts["timeout"], counts["survived"],
                     counts["equivalent"], total - detected - counts["survived"] - counts["equivalent"] - unchecked,
                     unchecked, score])  # fmt: skip
    headers = ["module", "mutants", "killed", "timeout", "survived", "equivalent", "other", "not checked", "score"]
    print(tabulate(rows, headers, tablefmt="github"))
    if survivors:
        print("\nUndetected, not judged equivalent (`mutmut show NAME`):", *survivors, sep="\n  ")


if __name__ == "__main__":
    main()
