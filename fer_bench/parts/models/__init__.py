"""Models: `fit(FitData)` then `predict_proba(X)` (fer_bench.parts.base.Model; registered as `model/<name>`)."""

from fer_bench.parts.models import cnn, ensemble, mlp, paper_mlp, sklearn_baselines  # noqa: F401  (registers the parts)
