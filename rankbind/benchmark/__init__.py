"""Accuracy benchmarks of rankbind's estimators on public data sets.

``datasets`` parses the sets, ``metrics`` holds DockQ/CAPRI, correlations and hot-spot
statistics, ``docking``/``affinity``/``ddg`` are the runners, ``runner`` runs cases
resumably and ``report`` writes results JSON, SUMMARY.md and plots.
"""
