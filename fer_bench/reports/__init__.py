"""Reports: each computes a typed info object from the records, then renders it (base.Report).

The leaderboard finds the reports it links among this package's modules (base.reports_to_link).
"""
