"""The load-benchmark suite behind ``claudeflow bench``.

Scenarios (:mod:`._catalog`) run a seeded workload (:mod:`._workload`) through claudeflow
and through baseline clients (:mod:`._clients`) against a simulator with known limits
(:mod:`._server`); each run is reduced to the figures DESIGN.md "Measuring" defines
(:mod:`._metrics`). Overhead (:mod:`._overhead`) and memory at 100,000 queued requests
(:mod:`._scale`) are measured apart. :mod:`._suite` runs everything, :mod:`._goals` judges
the results, :mod:`._report` writes ``results.json`` and the table, :mod:`._plots` the
figures, and :mod:`._cli` is the command line.

Nothing here is imported by the rest of claudeflow; optional dependencies (anthropic,
tenacity, matplotlib; the ``bench`` extra) load only when a run needs them.
"""
