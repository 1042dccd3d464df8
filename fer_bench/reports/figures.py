"""Figures from run records and studies, as matplotlib `Figure` objects (no pyplot, no global backend):
a notebook shows them as they are, and `save` writes one as PNG. matplotlib loads with the first
figure drawn, not with the reports."""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING

import numpy as np

from fer_bench.runs.records import Record
from fer_bench.runs.video import Frame

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _label_cells(ax, rates, counts):
    """Write each cell's rate and count on a heat map, white on its darker cells."""
    for (i, j), n in np.ndenumerate(counts):
        color = "white" if rates[i, j] > 0.55 else "black"
        ax.text(j, i, f"{rates[i, j]:.2f}\n({n})", ha="center", va="center", fontsize=7, color=color)


def _new_figure(**options) -> Figure:
    from matplotlib.figure import Figure

    return Figure(**options)


def confusion_matrix(record: Record, split) -> Figure:
    """Row-normalised confusion matrix with counts, as the study's figure 4."""
    classes = record.classes
    m = record.metrics[split]
    counts = np.asarray(m.confusion_matrix)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = 2.5 + 0.5 * len(classes)
    fig = _new_figure(figsize=(side, side * 0.87))
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    _label_cells(ax, rates, counts)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(
        f"{record.experiment} seed {record.seed}\n{split}: {100 * m.accuracy:.1f}% on "
        f"{m.n_evaluated}/{m.n_total} evaluated",
        fontsize=9,
    )
    fig.colorbar(image, ax=ax, fraction=0.046)
    return fig


def training_curves(record: Record) -> Figure:
    """Training and validation loss and accuracy over epochs (the study's figures 2 and 3)."""
    history = record.history
    assert history is not None  # drawn for runs that report epochs only
    fig = _new_figure(figsize=(9, 3.4))
    for ax, metric in zip(fig.subplots(1, 2), ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + metric in history:
                values = history[prefix + metric]
                ax.plot(
                    range(1, len(values) + 1), values, style, label=("validation " if prefix else "training ") + metric
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        if ax.lines:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{record.experiment} seed {record.seed}", fontsize=9)
    return fig


def accuracy_chart(rows, split) -> Figure:
    """Horizontal bars of mean test accuracy with 95% intervals; `rows` = (axis, setting, mean, low, high)."""
    fig = _new_figure(figsize=(8, 0.32 * len(rows) + 1.2))
    ax = fig.subplots()
    positions = np.arange(len(rows))[::-1]
    means = np.array([r[2] for r in rows]) * 100
    errors = np.array([[r[2] - r[3], r[4] - r[2]] for r in rows]).T * 100
    axes = list(dict.fromkeys(r[0] for r in rows))
    colors = [f"C{axes.index(r[0]) % 10}" for r in rows]
    ax.barh(positions, means, xerr=errors, color=colors, alpha=0.8, capsize=3)
    ax.set_yticks(positions, [f"{r[0]}: {r[1]}" for r in rows], fontsize=8)
    ax.set_xlabel(f"{split} accuracy on evaluated images, %\n(mean over seeds, 95% bootstrap CI)")
    low = max(0.0, float(np.min(means - errors[0])) - 5)
    ax.set_xlim(low, min(100.0, float(np.max(means + errors[1])) + 3))
    ax.grid(axis="x", alpha=0.3)
    return fig


def optimisation_history(values, metric) -> Figure:
    """Each complete trial's validation value by trial number, and the best so far."""
    numbers, scores = zip(*values) if values else ((), ())
    fig = _new_figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    ax.plot(numbers, np.array(scores) * 100, "o", alpha=0.7, label="trial")
    ax.plot(numbers, np.maximum.accumulate(np.array(scores) * 100) if scores else [], "-", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {metric}, %")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def importance_chart(importances: dict) -> Figure:
    """Horizontal bars of each tuned parameter's importance."""
    names = list(importances)[::-1]
    fig = _new_figure(figsize=(6.5, 0.4 * len(names) + 1.2))
    ax = fig.subplots()
    ax.barh(range(len(names)), [importances[n] for n in names], color="C0", alpha=0.8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("importance for the validation value (Optuna's default evaluator)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def emotion_timeline(frames: list[Frame], classes: tuple[str, ...], title: str) -> Figure:
    """Each emotion's probability over time for the largest face of each sampled frame (a gap
    where a frame has none), the predicted label as a strip of colour under it."""
    seconds = np.array([frame.seconds for frame in frames])
    proba = np.array([[f.faces[0].probabilities[c] if f.faces else np.nan for c in classes] for f in frames])
    fig = _new_figure(figsize=(8, 3.2))
    ax, strip = fig.subplots(2, 1, sharex=True, height_ratios=[5, 1])
    colours = [f"C{i}" for i in range(len(classes))]
    for k, name in enumerate(classes):
        ax.plot(seconds, proba[:, k], color=colours[k], label=name, linewidth=1.2)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    step = np.median(np.diff(seconds)) if len(seconds) > 1 else 1.0
    for t, row in zip(seconds, proba):
        if not np.isnan(row).all():
            strip.axvspan(t - step / 2, t + step / 2, color=colours[int(np.nanargmax(row))], linewidth=0)
    strip.set_yticks([])
    strip.set_xlabel("seconds")
    return fig


def save(fig: Figure, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    if fig.get_layout_engine() is None:  # a figure drawn with its own layout keeps it
        fig.tight_layout()
    fig.savefig(path, dpi=80, bbox_inches="tight")


def flip_matrix(counts, rows, columns, title) -> Figure:
    """Row-normalised table of how one labelling's classes (rows) land in another's (columns)."""
    counts = np.asarray(counts)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig = _new_figure(figsize=(1.0 + 0.75 * len(columns), 1.0 + 0.55 * len(rows)))
    ax = fig.subplots()
    ax.imshow(rates, cmap="Purples", vmin=0, vmax=1, aspect="auto")
    _label_cells(ax, rates, counts)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_title(title, fontsize=9)
    return fig


def reliability_diagrams(curves) -> Figure:
    """One panel per run: accuracy against confidence per bin, before and after temperature scaling;
    `curves` = [(title, [(label, [(images, accuracy, confidence)])])]."""
    columns = min(3, len(curves))
    rows = -(-len(curves) // columns)
    fig = _new_figure(figsize=(3.2 * columns, 3.0 * rows))
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax, (title, lines) in zip(axes, curves):
        ax.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
        for label, bins in lines:
            ax.plot([b[2] for b in bins], [b[1] for b in bins], "o-", markersize=3, label=label)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("confidence", fontsize=8)
        ax.set_ylabel("accuracy", fontsize=8)
        ax.legend(fontsize=6, loc="upper left")
        ax.grid(alpha=0.3)
    for ax in axes[len(curves) :]:
        ax.set_visible(False)
    return fig


# The frontier is drawn for the site's column (about 690 px) and a phone's screen (about 360 px): 9 inches
# at the 80 dpi `save` writes is 720 px, and its 15-point type (about 17 px) keeps 8 px on a phone.
FRONTIER_WIDTH = 9.0
FRONTIER_TYPE = 15
KEY_COLUMNS = 2
KEY_WIDTH = 34  # characters of a key's entry per line: two columns of FRONTIER_TYPE - 1 type fill FRONTIER_WIDTH
RUN_LIST = re.compile(r"\[(?:'[0-9a-f]{12}',? ?)+\]")  # a label's list of run ids (an ensemble's members)
MARKER_SIZE = 9  # points, as matplotlib's markersize
# Where a number may go around its point, as (x, y) offsets of its centre in its own width and height
# and the marker's size: right, left, above, below, the diagonals; then the same 2.2 times as far out,
# with a line to the point.
PLACES = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)]
STEPS = (1, 2.2)
LEADER = {"arrowstyle": "-", "color": "grey", "linewidth": 1, "shrinkA": 1, "shrinkB": MARKER_SIZE / 2 + 1}


def frontier_chart(panels) -> Figure:
    """One row per panel: accuracy (mean +/- std over seeds) against training CPU-minutes on a log
    scale, coloured by model family, hollow where recorded by older code, the Pareto front drawn as a
    step line; beside it, the configurations without a CPU cost, grouped by why. The configurations on
    the front and beside it carry numbers, which the key under their panel names: their names, written
    beside the points, covered each other where several cost about the same. `panels` hold `title`,
    `split` and `points` (each with label, family, accuracy, std, cpu_minutes, without_cost, on_front
    and outdated)."""
    from matplotlib.lines import Line2D

    families = list(dict.fromkeys(p.family for panel in panels for p in panel.points))
    color = {name: f"C{i % 10}" for i, name in enumerate(families)}
    uncosted = [list(dict.fromkeys(p.without_cost for p in panel.points if p.cpu_minutes is None)) for panel in panels]
    numbered = [[p for p in panel.points if p.on_front or p.cpu_minutes is None] for panel in panels]
    side_width = 1.5 * max(map(len, uncosted))
    keys = [_key(points) for points in numbered]
    heights = [h for key in keys for h in (5.0, 0.3 * _key_lines(key))]  # a panel, its key
    fig = _new_figure(figsize=(FRONTIER_WIDTH, 1.6 + sum(heights)), layout="constrained")
    grid = fig.add_gridspec(
        2 * len(panels), 2, width_ratios=[FRONTIER_WIDTH - side_width, side_width or 0.01], height_ratios=heights
    )
    to_number = []  # (axes, its points, their xs, the numbers of those numbered), once the layout is known
    for row, (panel, reasons, points, labels) in enumerate(zip(panels, uncosted, numbered, keys)):
        number = {id(p): i for i, p in enumerate(points, 1)}
        ax = fig.add_subplot(grid[2 * row, 0] if reasons else grid[2 * row, :])
        costed = [p for p in panel.points if p.cpu_minutes is not None]
        _points(ax, costed, [p.cpu_minutes for p in costed], color)
        front = [p for p in costed if p.on_front]
        ax.step(
            [p.cpu_minutes for p in front],
            [100 * p.accuracy for p in front],
            where="post",
            color="black",
            linewidth=1.5,
            alpha=0.6,
        )
        to_number.append((ax, costed, [p.cpu_minutes for p in costed], [number.get(id(p)) for p in costed]))
        ax.set_xscale("log")
        ax.set_xlabel("training CPU-minutes (wall time x cores; log scale)", fontsize=FRONTIER_TYPE)
        ax.set_ylabel(f"{panel.split} accuracy, all images, %", fontsize=FRONTIER_TYPE)
        ax.set_title(panel.title, fontsize=FRONTIER_TYPE)
        ax.tick_params(which="both", labelsize=FRONTIER_TYPE - 2)
        ax.grid(alpha=0.3, which="both")
        if reasons:
            side = fig.add_subplot(grid[2 * row, 1], sharey=ax)
            others = [p for p in panel.points if p.cpu_minutes is None]
            positions = [reasons.index(p.without_cost) for p in others]
            _points(side, others, positions, color)
            to_number.append((side, others, positions, [number[id(p)] for p in others]))
            side.set_xticks(range(len(reasons)), [textwrap.fill(r, 11) for r in reasons], fontsize=FRONTIER_TYPE - 2)
            side.set_xlim(-0.5, len(reasons) - 0.5)
            side.set_title("no CPU cost", fontsize=FRONTIER_TYPE)
            side.tick_params(labelleft=False)
            side.grid(alpha=0.3, axis="y")
        key = fig.add_subplot(grid[2 * row + 1, :])
        key.axis("off")
        key.legend(
            handles=[Line2D([], [], linestyle="", label=label) for label in labels],
            loc="upper left",
            ncol=KEY_COLUMNS,
            handlelength=0,
            handletextpad=0,
            borderaxespad=0,
            frameon=False,
            fontsize=FRONTIER_TYPE - 1,
        )
    handles = [Line2D([], [], marker="o", linestyle="", color=color[name], label=name) for name in families]
    handles += [
        Line2D([], [], color="black", alpha=0.6, label="Pareto front"),
        Line2D([], [], marker="o", linestyle="", color="grey", markerfacecolor="white", label="older code (†)"),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncol=3, fontsize=FRONTIER_TYPE - 1, frameon=False)
    fig.draw_without_rendering()  # the numbers are placed where the laid-out axes show them
    for ax, points, xs, numbers in to_number:
        _number_points(ax, [(x, 100 * p.accuracy) for p, x in zip(points, xs)], numbers)
    return fig


def _key(points) -> list[str]:
    """The key's entries: each point's number and label, a list of run ids as its length, wrapped to
    KEY_WIDTH (an ensemble of 15 members named them all on one line, wider than the figure)."""

    def compact(label):
        return RUN_LIST.sub(lambda ids: f"[{ids.group().count(',') + 1} runs]", label)

    return [
        textwrap.fill(f"{i}  {compact(p.label)}", KEY_WIDTH, subsequent_indent="    ") for i, p in enumerate(points, 1)
    ]


def _key_lines(labels) -> int:
    """Lines of the key's longest column (the legend fills its columns one after the other)."""
    per = max(1, -(-len(labels) // KEY_COLUMNS))
    return max(
        (sum(label.count("\n") + 1 for label in labels[i : i + per]) for i in range(0, len(labels), per)), default=0
    )


def _points(ax, points, xs, color):
    """Each point at its x, its accuracy with the seeds' standard deviation, hollow where its code is older."""
    for p, x in zip(points, xs):
        ax.errorbar(
            [x],
            [100 * p.accuracy],
            yerr=[100 * (p.std or 0)],
            fmt="o",
            markersize=MARKER_SIZE,
            capsize=4,
            alpha=0.85,
            color=color[p.family],
            markerfacecolor="white" if p.outdated else color[p.family],
        )


def _number_points(ax, xy, numbers):
    """Write each point's number (None: none) beside it, in the first place around it (PLACES) that
    covers no point, no number written before and nothing outside the axes, and is nearer its point
    than any other; failing that, in the place covering least. Worked out in pixels, so the axes must be laid out."""
    from matplotlib import patheffects
    from matplotlib.text import Text

    pixels = ax.figure.dpi / 72
    centres = ax.transData.transform(xy)
    radius = MARKER_SIZE / 2 * pixels
    taken = [(x - radius, y - radius, x + radius, y + radius) for x, y in centres]
    frame = ax.get_window_extent()
    style = {"ha": "center", "va": "center", "fontsize": FRONTIER_TYPE, "fontweight": "bold"}
    for own, (point, (x, y), number) in enumerate(zip(xy, centres, numbers)):
        if number is None:
            continue
        text = ax.annotate(str(number), point, xytext=(0, 0), textcoords="offset points", **style)
        size = Text.get_window_extent(text)  # the text's own box, as drawn at the point
        text.remove()
        width, height = size.width, size.height
        candidates = []  # (pixels covered, whether its point is the nearest, box, whether a step out)
        for step in STEPS:
            for dx, dy in PLACES:
                cx = x + dx * step * (radius + width / 2 + 2 * pixels)
                cy = y + dy * step * (radius + height / 2 + 2 * pixels)
                box = (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)
                outside = width * height - _overlap(box, (frame.x0, frame.y0, frame.x1, frame.y1))
                covered = sum(_overlap(box, other) for other in taken) + outside
                nearest = np.argmin(np.hypot(centres[:, 0] - cx, centres[:, 1] - cy))
                candidates.append((covered, nearest == own, box, step > 1))
        # free: under a pixel covered (the areas are sums of floats), and nearer its point than any other
        _, _, box, far = next((c for c in candidates if c[0] < 1 and c[1]), min(candidates, key=lambda c: c[0]))
        taken.append(box)
        text = ax.annotate(
            str(number),
            point,
            xytext=(((box[0] + box[2]) / 2 - x) / pixels, ((box[1] + box[3]) / 2 - y) / pixels),
            textcoords="offset points",  # as the figure is saved at another dpi than it is laid out at
            path_effects=[patheffects.withStroke(linewidth=3, foreground="white")],
            arrowprops=LEADER if far else None,
            **style,
        )
        text.set_in_layout(False)  # placed for this layout: it must not move the axes


def _overlap(a, b):
    """The area two boxes (x0, y0, x1, y1) share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
