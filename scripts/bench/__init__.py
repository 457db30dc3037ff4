"""Benchmark warehouse-gql: throughput, latency and the server's own CPU time per request.

    python -m scripts.bench                     # the full run (under 10 minutes on 2 cores)
    python -m scripts.bench --quick             # tiny dataset, ~1 s per scenario (the smoke test)
    python -m scripts.bench read baseline --duration 30 --out read.json

Starts its own SecantusDB (or uses MONGODB_URL), valkey-server (or REDIS_URL) and one
`warehouse-gql serve` process on a free port (launcher.py), loads a fixed dataset into a
database of its own (dataset.py), runs the scenarios (scenarios/, one module each), prints one
table, writes the numbers as JSON (report.py) and checks the invariants with the same code as
the test suite (warehouse_gql/store/invariants.py). See docs/BENCHMARKS.md.

Server CPU per request is the server process's user+sys time over a scenario divided by the
requests it served: it measures our own cost, whatever the database's speed.
"""
