"""What each extraction method costs, measured (``python -m backbones_tutorial bench``), and what
each survives (the compatibility matrix): chapter 6.

- ``results``: the records (settings, each method's result, a run) and their JSON form;
- ``verdicts``: intervals and two-sided verdicts; ``worker``: one block of timed rounds, in a fresh
  process; ``memory``: the peak-memory probe; ``runner``: a whole run;
- ``report``: the tables, targets and README summary; ``compare``: chapter 6's checks of the methods;
- ``compat``: the compatibility matrix.
"""

from backbones_tutorial.bench.report import format_interval, format_targets, results_table, rounds_text, targets
from backbones_tutorial.bench.results import WORKLOADS, BenchSettings, Results, load_runs
from backbones_tutorial.bench.verdicts import TOLERANCE

__all__ = ["TOLERANCE", "WORKLOADS", "Results", "BenchSettings", "format_interval", "format_targets", "load_runs",
           "rounds_text", "results_table", "targets"]
