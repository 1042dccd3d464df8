"""MkDocs hook: the generated reports under results/ become pages of the site, read where they are.

Every markdown report and figure in results/ (the leaderboard, frontier, benchmarks, grids,
searches, comparisons, labels, calibration) is added to the site at `results/<same path>`, so the
links between reports and to their figures work as they do on GitHub, and nothing is copied into
docs/. The nav entry `Results: results.md` in mkdocs.yml becomes a section: that overview page,
then every report found, so a new report appears without editing mkdocs.yml. Report pages, their
long table cells and their ranked tables are marked for the stylesheet (stylesheets/extra.css).
"""

import importlib.util
import re
from html import unescape
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

RESULTS = Path(__file__).resolve().parent.parent / "results"
KINDS = {".md", ".png", ".svg", ".jpg", ".jpeg", ".gif"}
SKIP = {"models", "claims"}  # weights and locks: nothing a page shows
TOP = {"LEADERBOARD.md": "Leaderboard", "frontier.md": "Accuracy for training time", "benchmarks.md": "Benchmarks"}
SECTIONS = {"grids": "Grids", "searches": "Searches", "comparisons": "Paired comparisons",
            "labels": "Labels", "calibration": "Calibration"}  # fmt: skip
# Report tables keep each cell on one line, but for the cells longer than this (a model's parameters,
# where a run trained): those wrap, so that a board's main table fits 1280 px.
LONG = 28
CELL = re.compile(r"<(td|th)>(.*?)</\1>", re.S)  # Python-Markdown's cells, without alignment attributes
TAG = re.compile(r"<[^>]+>")


def _reports():
    """Paths under results/ that the site shows, relative to it, sorted."""
    found = (p.relative_to(RESULTS) for p in RESULTS.rglob("*") if p.is_file() and p.suffix.lower() in KINDS)
    return sorted(p for p in found if not SKIP & set(p.parts))


def _nav():
    """The Results section: the overview, the top-level reports, then one sub-section per folder."""
    pages = [p for p in _reports() if p.suffix == ".md"]
    nav = [{"Overview": "results.md"}]
    nav += [{TOP.get(p.name, p.stem): f"results/{p.as_posix()}"} for p in pages if len(p.parts) == 1]
    folders = [*SECTIONS, *sorted({p.parts[0] for p in pages if len(p.parts) > 1} - set(SECTIONS))]
    for folder in folders:  # a report folder added later shows too, under its own name
        inside = [{p.stem: f"results/{p.as_posix()}"} for p in pages if len(p.parts) > 1 and p.parts[0] == folder]
        title = SECTIONS.get(folder, folder)
        if len(inside) == 1:  # one report: a link, not a section of one
            nav.append({title: next(iter(inside[0].values()))})
        elif inside:
            nav.append({title: inside})
    return nav


def on_config(config):
    # mkdocstrings only logs that it found no formatter, then writes every signature on one line
    if importlib.util.find_spec("ruff") is None:
        raise PluginError("the API reference formats its signatures with ruff: pip install -e '.[docs]'")
    for i, item in enumerate(config.nav or []):
        if item == {"Results": "results.md"}:
            config.nav[i] = {"Results": _nav()}
    return config


def _mark_cells(match):
    """A cell longer than LONG characters may wrap (the rest keep to one line); a `#` heading names
    a ranked table, whose rows are named by the next column."""
    cell, inside = match.group(1), match.group(2)
    if cell == "th":
        return '<th class="fer-rank">#</th>' if inside == "#" else match.group(0)
    length = len(unescape(TAG.sub("", inside)))
    if length <= LONG:
        return match.group(0)
    # at least 11em wide, or about a third of its text a line (some 2 characters an em) up to 24em:
    # a model's 170 characters of parameters take 4 lines, not 8
    width = max(11, min(24, round(length / 6)))
    return f'<td class="fer-long" style="min-width: {width}em">{inside}</td>'


def on_page_content(html, page, config, files):
    """A report's page is marked, so that its wide tables get the screen's width, and so are its long
    cells and ranked tables (stylesheets/extra.css)."""
    if page.file.src_uri.startswith("results/"):
        return f'<div class="fer-report">\n{CELL.sub(_mark_cells, html)}\n</div>'
    return html


def on_files(files, config):
    for path in _reports():
        files.append(File.generated(config, f"results/{path.as_posix()}", abs_src_path=str(RESULTS / path)))
    return files
