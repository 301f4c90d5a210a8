"""The ``agent-sidecar`` command line: a click group and one module per command.

Thin on purpose: a command parses, builds a config object that validates itself,
configures logging once (:func:`group.setup_logging`), runs ``asyncio.run`` and maps
exceptions to the named exit codes of :class:`agent_sidecar.errors.ExitCode`
(:func:`group.fail`). Heavy imports stay inside the command function, so that
``--help`` and the other commands start fast.

Layout::

    group.py     the ``main`` group (--version, --log-level), setup_logging, fail
    options.py   sidecar_option / relay_env_option (the environment twin of an option),
                 config_default (the one source of a default), positive
    run.py       agent-sidecar run
    relay.py     agent-sidecar relay, relay_option
    token.py     agent-sidecar token

Every option has exactly one environment twin, named after its first long name and
shown in ``--help``: ``AGENT_SIDECAR_<NAME>`` for the sidecar's commands,
``AGENT_RELAY_<NAME>`` for ``relay`` (and for options that mean the relay's setting, like
``token --jwt-secret``). One name means one thing in every command (``--relay``,
``--token`` and ``--port`` of a new command read ``AGENT_SIDECAR_RELAY`` ... like
``run``'s). tests/unit/test_cli_options.py walks every option of every command and
checks this, and that defaults come from the config objects.

Adding a command: write ``agent_sidecar/cli/NAME.py`` with::

    from .group import main
    from .options import sidecar_option

    @main.command()
    @sidecar_option("--relay", metavar="URL", help="...")   # twin AGENT_SIDECAR_RELAY
    def ls(relay: str | None) -> None:
        \"\"\"One line for --help.\"\"\"

and add ``NAME`` to the import line below (the import registers the command).

Adding a relay option: add the field (with its default) to ``relay.config.RelayConfig``,
then in any module imported below (``relay.py`` or your own)::

    from .relay import relay_option

    relay_option("--metrics-listen", metavar="HOST:PORT", help="...")

It sets ``RelayConfig.metrics_listen`` (the parameter name is the field name; give a
second declaration like ``"--redis", "redis_url"`` when they differ), takes the field's
default and reads ``AGENT_RELAY_METRICS_LISTEN``. Convert with ``type=`` or
``callback=`` to the field's type.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import attach, control, export, ls, relay, run, tail, token  # noqa: F401  (importing a command module registers it)
from .group import main


def entry(argv: Sequence[str] | None = None) -> None:
    """Console entry point (also ``python -m agent_sidecar``)."""
    main.main(args=list(argv) if argv is not None else None, prog_name="agent-sidecar")


__all__ = ["entry", "main"]
