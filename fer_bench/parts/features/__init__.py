"""Feature extractors: turn a Dataset into a FeatureSet (registered as `features/<name>`)."""

from fer_bench.parts.features import embedding, pixels  # noqa: F401  (registers the parts)
