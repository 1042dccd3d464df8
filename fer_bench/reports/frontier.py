"""Accuracy for training time: every configuration on the boards, its seeds folded into mean +/- std,
against the CPU-minutes its training took, with the Pareto front marked (`<results>/frontier.md`
and its figure, which the leaderboard shows first; written with the leaderboard).

A panel per data set and labels (runs trained elsewhere beside those trained here). A configuration
is on the front when no configuration that trained in as many CPU-minutes or fewer is more accurate.
Costs count the members of an ensemble, a student's teacher and the runs of the grid whose rule chose
a setting (analysis/configurations.py). A
configuration without a CPU cost (trained on an accelerator or built on runs that were, trained
elsewhere, or built on runs not recorded here) is shown beside the axis, on no front. Points are
coloured by the family their model part declares. Times are measured where each run ran: the report
names the machines.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tabulate import tabulate

from fer_bench.analysis.boards import OUTDATED, Board, boards, configuration_names
from fer_bench.analysis.configurations import (
    Configuration,
    chosen_among,
    configuration_id,
    family,
    fold,
    pareto_front,
    training_cpu_minutes,
)
from fer_bench.analysis.provenance import trained_on_accelerator
from fer_bench.reports import figures
from fer_bench.reports.base import Report
from fer_bench.runs import layout

TRAINED_ELSEWHERE, ACCELERATOR, NOT_RECORDED = "trained elsewhere", "on an accelerator", "not recorded"


@dataclass
class Point:
    configuration: Configuration
    label: str  # its name on the boards (boards.configuration_names), marked where its code changed
    family: str  # of its model part (configurations.family)
    accuracy: float  # mean over seeds, over all images of the panel's split
    std: float | None  # over seeds; None for one seed
    cpu_minutes: float | None  # mean over seeds; None without a CPU cost
    without_cost: str = ""  # why it has none: TRAINED_ELSEWHERE, ACCELERATOR or NOT_RECORDED
    on_front: bool = False

    @property
    def outdated(self):
        return self.configuration.older_code


@dataclass
class Panel:
    title: str
    split: str
    points: list  # Point: those with a CPU cost, cheapest first, then the others by accuracy


@dataclass
class FrontierInfo:
    panels: list
    machines: list  # "processor isa, N cores" of the costed runs


def _machine(record):
    isa = record.hardware.get("isa")
    return (
        f"{record.hardware.get('processor', '?')}{f' {isa}' if isa else ''}, {record.hardware.get('cores', '?')} cores"
    )


def _panel(group, by_run_id) -> Panel:
    """The panel of boards tested alike (the board of runs trained here, then that of runs trained elsewhere)."""
    first = group[0]
    split = first.split
    title = f"{first.data.name}, {'FER+ majority' if first.ferplus else 'FER2013'} labels"
    folded = [(c, board) for board in group for c in fold(board.runs, by_run_id)]
    points = []
    for (c, board), name in zip(folded, configuration_names([c for c, _ in folded])):
        chose = chosen_among(c.first, by_run_id.values())
        costs = [training_cpu_minutes(r, by_run_id, chose) for r in c.runs]
        known = [minutes for minutes in costs if minutes is not None]
        cost = float(np.mean(known)) if len(known) == len(costs) and min(known) > 0 else None  # a log scale has no 0
        why = (
            ""
            if cost is not None
            else (
                TRAINED_ELSEWHERE
                if board.elsewhere
                else ACCELERATOR
                if any(trained_on_accelerator(r, by_run_id) for r in (c.first, *chose))
                else NOT_RECORDED
            )
        )
        mean, std = c.mean_std(split)
        points.append(Point(c, name, family(c.first), mean, std, cost, why))
    costed = sorted((p for p in points if p.cpu_minutes is not None), key=lambda p: (p.cpu_minutes, -p.accuracy))
    for i in pareto_front([(p.cpu_minutes, p.accuracy) for p in costed]):
        costed[i].on_front = True
    others = sorted((p for p in points if p.cpu_minutes is None), key=lambda p: -p.accuracy)
    return Panel(title, split, costed + others)


TITLE = "Accuracy for training time (the Pareto front)"


class FrontierReport(Report[FrontierInfo]):
    folder = ""

    def compute(self, records) -> FrontierInfo:
        records = list(records)
        by_run_id = {r.run_id: r for r in records if r.ok}
        groups: dict[tuple[str, str], list[Board]] = {}
        for board in boards(records):
            if not board.evaluated:
                groups.setdefault((board.runs[0].scored_against, board.split), []).append(board)
        panels = [_panel(group, by_run_id) for group in groups.values()]
        machines = sorted(
            {
                _machine(r)
                for panel in panels
                for p in panel.points
                if p.cpu_minutes is not None
                for r in p.configuration.runs
            }
        )
        return FrontierInfo(panels, machines)

    def file_name(self, info) -> str:
        return layout.FRONTIER

    def markdown(self, info: FrontierInfo, command: str) -> str:
        lines = [
            "# Accuracy for training time",
            "",
            f"Generated by `{command}` from the run records. Do not edit by hand.",
            "",
            "Each configuration on the boards (its seeds folded: mean +/- standard deviation) against the",
            "CPU-minutes its training took (wall seconds of `fit` x the process's cores; an ensemble's members,",
            "a student's teacher and the runs of the grid whose rule chose its setting included, each run once),",
            "coloured by the family of its model. **front**: no configuration trained in as many CPU-minutes or",
            "fewer is more accurate. A configuration without a CPU cost (trained on an accelerator or built on runs",
            "that were, trained elsewhere, or built on runs not recorded here) stands beside the axis, on no front.",
            "Accuracy over all images of the split, in %. "
            f"{OUTDATED} (hollow in the figure): recorded by earlier code of its parts, or built on runs that were",
            "(see the leaderboard). In the figure the configurations on the front and those without a CPU cost",
            "carry numbers, which the key under their panel names; it opens full size when clicked.",
            "",
            # linked to itself: on a phone's screen the figure is read zoomed in
            f"[![accuracy against training CPU-minutes]({layout.FRONTIER_FIGURE})]({layout.FRONTIER_FIGURE})",
            "",
            "Machines: " + ("; ".join(info.machines) or "none") + ".",
            "",
        ]
        for panel in info.panels:
            rows = [
                [
                    p.label,
                    p.family,
                    len(p.configuration.runs),
                    f"{100 * p.accuracy:.2f}" + (f" +/- {100 * p.std:.2f}" if p.std is not None else ""),
                    f"{p.cpu_minutes:.3g}" if p.cpu_minutes is not None else f"none: {p.without_cost}",
                    "front" if p.on_front else "",
                    f"`{configuration_id(p.configuration.first)}`",
                ]
                for p in panel.points
            ]
            headers = ["experiment", "family", "seeds", f"{panel.split} %", "training CPU-min", "front", "run id"]
            lines += [f"## {panel.title}", "", tabulate(rows, headers, tablefmt="github", disable_numparse=True), ""]
        return "\n".join(lines)

    def figures(self, info: FrontierInfo):
        if info.panels:
            yield layout.FRONTIER_FIGURE, figures.frontier_chart(info.panels)


def write_with_leaderboard(records, results_root: Path) -> Path | None:
    """The report beside the leaderboard, or None while no board has a run. Its figure is drawn again
    only when the report's text changed: the leaderboard is rewritten after every run."""
    report = FrontierReport()
    info = report.compute(records)
    if not info.panels:
        return None
    command = "fer-bench leaderboard"
    path = Path(results_root) / report.file_name(info)
    if (
        path.is_file()
        and path.read_text() == report.text(info, command)
        and (path.parent / layout.FRONTIER_FIGURE).is_file()
    ):
        return path
    return report.write(info, results_root, command)
