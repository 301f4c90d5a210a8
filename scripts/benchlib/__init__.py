"""The agent-sidecar benchmark suite (``scripts/bench``).

Every scenario runs against the real CLI processes (``agent-sidecar relay`` and
``agent-sidecar run``) on 127.0.0.1; the physical limits (PTY reads with a plain reader,
a loopback WebSocket echo, a bare aiohttp one-hop forwarder) are measured in the same
run so that every figure is also a ratio. Module map::

    producer.py   the program run under the sidecar's PTY (payload, echo, wait-for-go)
    procs.py      spawning relay/sidecar/viewer processes, /proc CPU and RSS readers
    clients.py    dashboard clients: aiohttp (binary/JSON) and a raw socket that stalls
    viewer.py     a dashboard in its own process (the 10-viewer scenarios', as browsers)
    limits.py     physical limits: raw/cooked PTY read, WS echo, one-hop relay CPU
    hop.py        the bare aiohttp echo/one-hop server (its own process)
    scenarios.py  throughput, keystroke RTT, fan-out, stall, exit-burst, late joiner, scale
    report.py     statistics, the table, JSON
    __main__.py   the command line
"""
