"""fer-bench: a benchmark harness for facial emotion recognition on FER2013."""

__version__ = "0.1.0"
