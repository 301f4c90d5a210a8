"""Operations: what a relay's operator watches and keeps.

Modules::

    config        OpsConfig: --metrics-listen, --audit-log, --record-dir and their bounds
    hooks         Ops: the one object handlers call (app[OPS]), one call per event
    metrics       RelayMetrics: Prometheus counters and gauges in a per-app registry
    audit         AuditLog: memory, file and Redis stream; queries for GET /api/audit
    audit_record  AuditRecord: one control action as a JSON line (sans I/O)
    audit_file    RotatingFile: the audit file, rotated by size
    audit_stream  AuditStream: the capped Redis stream every relay of a fleet appends to
    cast          asciicast v2 lines and Timeline -> cast rendering (sans I/O)
    recorder      Recorder: timelines in memory, cast files in --record-dir
    http          /metrics, /api/audit, /api/agents/{id}/cast; the metrics listener
    logs          --log-format json: JSON lines with the connection's id
"""
