"""agent-sidecar: run a command under a PTY and stream it to a relay."""

__version__ = "0.1.0"
