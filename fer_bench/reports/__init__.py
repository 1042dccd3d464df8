"""Reports: each computes a typed info object from the records, then renders it (base.Report).

REPORTS registers every report the leaderboard links, in the order it links them.
"""

from fer_bench.reports.calibration import CalibrationReport
from fer_bench.reports.comparison import ComparisonReport
from fer_bench.reports.grid import GridReport
from fer_bench.reports.labels import DuplicatesReport, FerplusReport
from fer_bench.reports.search import SearchReport

REPORTS = (GridReport(), SearchReport(), ComparisonReport(), FerplusReport(), DuplicatesReport(), CalibrationReport())
