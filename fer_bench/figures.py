"""PNG figures from run records (matplotlib, headless)."""

import numpy as np

from fer_bench.data.dataset import CLASS_NAMES


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_matrix(record, split, path):
    """Row-normalised confusion matrix with counts, as the study's figure 4."""
    plt = _pyplot()
    counts = np.asarray(record["metrics"][split]["confusion_matrix"])
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5.2))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for (i, j), n in np.ndenumerate(counts):
        ax.text(j, i, f"{rates[i, j]:.2f}\n({n})", ha="center", va="center", fontsize=7,
                color="white" if rates[i, j] > 0.55 else "black")  # fmt: skip
    ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    m = record["metrics"][split]
    ax.set_title(
        f"{record['experiment']} seed {record['seed']}\n{split}: {100 * m['accuracy']:.1f}% on "
        f"{m['n_evaluated']}/{m['n_total']} evaluated",
        fontsize=9,
    )
    fig.colorbar(image, ax=ax, fraction=0.046)
    _save(fig, path)


def training_curves(record, path):
    """Training and validation loss and accuracy over epochs (the study's figures 2 and 3)."""
    plt = _pyplot()
    history = record["history"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + metric in history:
                values = history[prefix + metric]
                ax.plot(
                    range(1, len(values) + 1), values, style, label=("validation " if prefix else "training ") + metric
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{record['experiment']} seed {record['seed']}", fontsize=9)
    _save(fig, path)


def accuracy_chart(rows, split, path):
    """Horizontal bars of mean test accuracy with 95% intervals; `rows` = (axis, setting, mean, low, high)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.2))
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
    _save(fig, path)


def _save(fig, path):
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
