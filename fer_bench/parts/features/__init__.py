"""Feature extractors: turn a Dataset into a FeatureSet (registered as `features/<name>`)."""
