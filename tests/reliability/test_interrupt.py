"""Ctrl-C stops a command within seconds, even inside a fit's native code, and leaves nothing half-made."""

import signal
import subprocess
import sys
import time

from fer_bench.cli import STOP_WITHIN_S, main
from fer_bench.runs.claims import claim
from fer_bench.runs.records import RecordStore
from fer_bench.testing import CheapCentroid

from conftest import CHEAP_EXPERIMENT

# `fer-bench complete` whose fit blocks in native code that runs no Python signal handler and
# releases the GIL (as a compiled training epoch does): minutes of key stretching, after a flag file.
BLOCKED_IN_NATIVE_CODE = """
import hashlib, sys
from pathlib import Path
from fer_bench.cli import main
from fer_bench.testing import CheapCentroid

def fit(self, data):
    Path(sys.argv[1]).touch()
    hashlib.pbkdf2_hmac("sha256", b"key", b"salt", 10**9)

CheapCentroid.fit = fit
sys.exit(main(sys.argv[2:]))
"""


def pruned_run(write_experiments, tmp_path):
    """A results folder holding a run of `cheap` whose weights were pruned: `complete` fits it again."""
    write_experiments({"cheap.toml": CHEAP_EXPERIMENT})
    results = tmp_path / "results"
    assert main(["run", "cheap", "--results", str(results)]) == 0
    assert main(["prune", "cheap", "--results", str(results)]) == 0
    return results


def nothing_half_made(results, before):
    """No record appended, no weights saved, and the claim free for the next process."""
    store = RecordStore(results)
    assert store.path.read_bytes() == before
    assert not list((results / "models").glob("*.weights.*"))
    with claim(results, store.all()[-1].run_id, wait=False) as held:
        assert held


def test_ctrl_c_during_a_fit_in_native_code_stops_within_seconds_and_records_nothing(write_experiments, tmp_path):
    results = pruned_run(write_experiments, tmp_path)
    before = (results / "runs.jsonl").read_bytes()
    fitting = tmp_path / "fitting"
    process = subprocess.Popen(
        [sys.executable, "-c", BLOCKED_IN_NATIVE_CODE, str(fitting), "complete", "cheap", "--results", str(results)],
        stderr=subprocess.PIPE,
        text=True,
        # as from a shell: a test runner's worker may ignore SIGINT, which a child would inherit
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not fitting.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fitting.exists(), process.communicate()[1][-3000:]
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=STOP_WITHIN_S + 10)
    finally:
        process.kill()
    took = time.monotonic() - interrupted
    assert process.returncode == 130 and took < STOP_WITHIN_S + 5, (took, err[-3000:])
    assert "fer-bench: interrupted; records already written are kept" in err and "Traceback" not in err
    nothing_half_made(results, before)
    assert main(["complete", "cheap", "--results", str(results)]) == 0  # the next process completes it


def test_an_interrupt_raised_in_a_fit_records_nothing(write_experiments, tmp_path, monkeypatch, capsys):
    results = pruned_run(write_experiments, tmp_path)
    before = (results / "runs.jsonl").read_bytes()

    def interrupted(self, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(CheapCentroid, "fit", interrupted)
    assert main(["complete", "cheap", "--results", str(results)]) == 130
    assert capsys.readouterr().err.endswith("fer-bench: interrupted; records already written are kept\n")
    nothing_half_made(results, before)
