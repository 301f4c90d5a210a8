"""Errors and exit codes of the sidecar.

Exception tree::

    SidecarError                 root of every error this package raises on purpose
    ├── UsageError               a flag or value is unusable (exit 2)
    ├── CommandNotFound          the command does not exist (exit 127)
    ├── CommandNotExecutable     the command exists but cannot be executed (exit 126)
    ├── RelayUnavailable         no relay can be started or joined (exit 69)
    └── RelayRefused             the relay refused the sidecar for good (exit 77)

The sidecar's own exit code is the command's (0-255, 128+N when a signal N killed it);
the named codes below are used only when the command could not run.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes of ``agent-sidecar`` when it is not reporting the command's own."""

    OK = 0
    #: A bad flag or value (click's usage errors use 2 as well).
    USAGE = 2
    #: ``relay``: cannot listen; ``run`` (embedded): the port is taken by something else.
    UNAVAILABLE = 69  # sysexits EX_UNAVAILABLE
    #: An unexpected internal error (a bug); the detail is in the log.
    INTERNAL = 70  # sysexits EX_SOFTWARE
    #: ``run``: the relay refused the token (4401) or the agent id (4403) at start.
    REFUSED = 77  # sysexits EX_NOPERM
    #: The command exists but is not executable (as in shells).
    NOT_EXECUTABLE = 126
    #: The command was not found (as in shells).
    NOT_FOUND = 127


class SidecarError(Exception):
    """Root of the sidecar's errors; ``exit_code`` is what the CLI exits with."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(SidecarError):
    exit_code = ExitCode.USAGE


class CommandNotFound(SidecarError):
    exit_code = ExitCode.NOT_FOUND


class CommandNotExecutable(SidecarError):
    exit_code = ExitCode.NOT_EXECUTABLE


class RelayUnavailable(SidecarError):
    exit_code = ExitCode.UNAVAILABLE


class RelayRefused(SidecarError):
    exit_code = ExitCode.REFUSED
