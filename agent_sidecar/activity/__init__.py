"""What the agent is doing, and whether it needs a person (contract section 11).

Sources, each in its own module, fused by ``fusion.py`` in a sans-I/O ``Detector``:

    hooks/       the agents' own events: injected per run (inject.py), called back over
                 a private unix socket (server.py, hookcall.py), mapped (events.py)
    escapes.py   OSC 9 / 777 / 99 notifications, the bell, OSC 9;4 progress
    screen.py    a terminal model (pyte) fed off the hot path; rules.py reads it
    process.py   the PTY's foreground group: reading the terminal, computing, or neither
    decisions.py permission requests held open for a dashboard's answer

``live.py`` runs it all in the sidecar; ``replay.py`` runs recordings through it for the
labelled corpus (tests/data/activity, docs/activity.md).
"""
