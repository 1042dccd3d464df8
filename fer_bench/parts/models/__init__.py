"""Models: `fit(FitData)` then `predict_proba(X)` (fer_bench.parts.base.Model; registered as `model/<name>`)."""
