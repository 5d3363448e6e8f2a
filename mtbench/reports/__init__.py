"""Every rendering of `mtbench.analysis` results: text, CSV, JSON and Markdown tables, the
self-contained HTML page of `mtbench-browse`, and the radar plot."""
