"""Models: `fit(FitData)` then `predict_proba(X)` (fer_bench.parts.Model; registered as `model/<name>`)."""

from fer_bench.models import cnn, ensemble, mlp, paper_mlp, sklearn_baselines  # noqa: F401  (registers the parts)
