"""The committed leaderboard is what the code makes of the committed records: a change to the code
that moves a figure on it shows here, not in a later session's diff of results/."""

import shutil
from pathlib import Path

from fer_bench import api

RESULTS = Path(__file__).parent.parent / "results"


def test_the_committed_leaderboard_is_regenerated_byte_for_byte(tmp_path):
    # everything but the weights: the board links the reports it finds and reads the yardsticks
    shutil.copytree(RESULTS, tmp_path / "results", ignore=shutil.ignore_patterns("models"))
    written = api.write_leaderboard(tmp_path / "results")
    assert written.read_text() == (RESULTS / "LEADERBOARD.md").read_text()
