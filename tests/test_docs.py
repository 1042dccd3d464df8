"""The README and the documentation site (docs/, mkdocs.yml): the README stays a short front page
around its generated block, its links resolve, no page types a figure that a generated file should
give, the tutorial's model keeps the part contract, and the ONNX page's worked example runs.
`make docs-build` checks the site's own links and API references (mkdocs build --strict)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLES = ROOT / "docs" / "examples"
BLOCK = re.compile(r"<!-- leaderboard:start -->.*?<!-- leaderboard:end -->", re.S)


def test_the_readme_is_a_short_front_page_around_its_generated_block():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    assert text.count("<!-- leaderboard:start -->") == text.count("<!-- leaderboard:end -->") == 1


def test_the_readmes_relative_links_resolve():
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert local, "the README links the documentation pages"
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_no_page_types_an_accuracy_a_generated_file_should_give():
    """Figures come from generated files (the leaderboard, the reports): a page links them instead."""
    pages = [README, *sorted((ROOT / "docs").rglob("*.md"))]
    typed = [
        (page.relative_to(ROOT), found)
        for page in pages
        for found in re.findall(r"\d+\.\d+ ?%", BLOCK.sub("", page.read_text()))
    ]
    assert not typed, f"figures typed into pages: {typed}"


def test_the_tutorials_files_keep_the_part_contract():
    """docs/adding-a-part.md's model passes the conformance checks; its experiment and grid parse."""
    code = (
        "from fer_bench.testing import check_part; check_part('model/ridge'); "
        "from fer_bench.specs.experiment import load_experiment; from fer_bench.specs.grid import load_grid; "
        f"load_experiment({str(EXAMPLES / 'ridge.toml')!r}); "
        f"print(len(load_grid({str(EXAMPLES / 'ridge-grid.toml')!r}).cells))"
    )
    path = os.pathsep.join(filter(None, [str(EXAMPLES), str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "FER_BENCH_PLUGINS": "ridge", "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "8"  # the base and 3 ridge penalties, 2 seeds each, as the tutorial says


def test_the_results_overview_links_every_grid_and_search_report():
    """docs/results.md names each grid and search by hand: one added to results/ without a link there
    would be missing from the overview (two of four grids were)."""
    overview = (ROOT / "docs" / "results.md").read_text()
    found = [*(ROOT / "results" / "grids").glob("*.md"), *(ROOT / "results" / "searches").glob("*.md")]
    reports = [p.relative_to(ROOT).as_posix() for p in found]
    assert reports
    unlinked = [report for report in reports if f"({report})" not in overview]
    assert not unlinked, f"docs/results.md does not link {unlinked}"


def test_the_onnx_pages_worked_example_runs(tmp_path):
    """docs/examples/onnx_in_and_out.py, included in docs/onnx.md, runs as a user would run it: an
    ONNX network of another framework's conventions scored, a trained network exported and run by
    onnxruntime to the probabilities `predict` gives (its own asserts)."""
    example = EXAMPLES / "onnx_in_and_out.py"
    done = subprocess.run([sys.executable, str(example)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("in: the ONNX network") and sum(line.startswith("out: ") for line in lines) == 7
