"""Numbers from judgment files: scores, bootstrap intervals, run comparisons, judge agreement,
position bias, reference-answer diffs. Everything here returns dataclasses and DataFrames and
never prints; `mtbench.reports` renders them."""
