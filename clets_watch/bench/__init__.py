"""``clets-watch bench``: throughput, latency and memory, measured side by side on one machine.

Stages (each its own module): ``raw_consumers`` (the ceiling: bare Kafka loops that only decode JSON),
``live`` (the real worker process), ``peer`` (the same job in Quix Streams), ``latency`` (event produced ->
alert row stored, at a fixed rate), ``replay`` (offline replay vs the bare parse of the same archive, with
RSS), and ``report`` (table, JSON, results file). ``runner`` ties them together.

Every throughput figure is measured the same way: from the first observation of processed events to
the last event processed, i.e. ``(N - n0) / (t_last - t0)`` where ``n0`` events were already processed at
the first observation ``t0``; process start-up, connecting and group rebalancing are excluded.
"""
