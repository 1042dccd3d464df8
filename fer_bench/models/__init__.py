"""Models: `fit(X, y, resampler, seed)` then `predict_proba(X)` (registered as `model/<name>`)."""

from fer_bench.models import cnn, mlp, paper_mlp, sklearn_baselines  # noqa: F401  (registers the parts)
