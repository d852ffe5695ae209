"""The load-benchmark suite behind ``claudeflow bench``.

Scenarios (:mod:`._catalog`) run a seeded workload (:mod:`._workload`) through claudeflow
and, when the checkout's ``benchmarks/claudeflow_baselines`` is importable, through the
comparison baselines (:mod:`._clients`), against a simulator with known limits
(:mod:`._server`). Each run is measured against the perfect schedule of the same
workload (:mod:`._perfect`, a discrete-event simulation of the simulator's rules;
:mod:`._reference`) and reduced to the figures DESIGN.md "Measuring" defines
(:mod:`._metrics`). Overhead (:mod:`._overhead`) and memory at 100,000 queued requests
(:mod:`._scale`) are measured apart. :mod:`._suite` runs everything, :mod:`._goals` judges
the results, :mod:`._report` writes ``results.json`` and the table, :mod:`._plots` the
figures, and :mod:`._cli` is the command line.

Nothing here is imported by the rest of claudeflow; optional dependencies (anthropic,
tenacity, aiolimiter, matplotlib; the ``bench`` extra) load only when a run needs them.
"""
