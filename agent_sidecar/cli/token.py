"""``agent-sidecar token``: print a signed token (JWT) for a dashboard, script or sidecar."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from relay.auth import DEFAULT_TTL
from relay.config import MIN_SECRET_BYTES, RelayConfig
from relay.protocol import ROLES, Role

from ..config import RunConfig
from ..errors import ExitCode
from .group import fail, main, setup_logging
from .options import config_default, positive, relay_env_option, sidecar_option

#: Far below the relay's limit on ``exp`` (10^12, year ~33658).
MAX_TTL = 100 * 365.25 * 86400


def lifetime(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """Callback: a positive, finite ``--ttl`` of at most :data:`MAX_TTL`."""
    positive(ctx, param, value)
    if value > MAX_TTL:
        raise click.BadParameter(f"must be at most {MAX_TTL:.0f} s (100 years), got {value:g}")
    return value


@main.command()
@sidecar_option("--role", type=click.Choice(ROLES), required=True, help="Role of the token.")
@sidecar_option("--sub", required=True, help="Subject: the identity (agent id for agents).")
@sidecar_option(
    "--agents",
    "agents",
    multiple=True,
    metavar="PATTERN",
    help="Restrict the token to agent ids matching this glob; repeatable.",
)
@sidecar_option("--ttl", type=float, default=DEFAULT_TTL, callback=lifetime,
                help="Lifetime in seconds (at most 100 years).")
@relay_env_option(
    "--jwt-secret",
    show_default=False,
    help="HS256 secret (at least 32 bytes) [default: the embedded relay's, from its "
    "runtime file for --port].",
)
@relay_env_option(
    "--jwt-private-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM private key for RS256/ES256 relays (started with --jwt-public-key).",
)
@relay_env_option(
    "--audience",
    default=config_default(RelayConfig, "audience"),
    help="Audience (aud claim): the --audience of the relay that will check the token.",
)
@sidecar_option(
    "--port",
    type=click.IntRange(0, 65535),
    default=config_default(RunConfig, "port"),
    help="Without a secret: the port of the embedded relay whose secret to use.",
)
@click.pass_context
def token(
    ctx: click.Context,
    role: str,
    sub: str,
    agents: tuple[str, ...],
    ttl: float,
    jwt_secret: str | None,
    jwt_private_key: Path | None,
    audience: str,
    port: int,
) -> None:
    """Print a signed token (JWT) for a dashboard, a script or a sidecar."""
    from relay.auth import mint_token

    from ..jwt_keys import private_key_algorithm

    setup_logging(ctx, "warning")
    key: str | bytes
    algorithm = "HS256"
    if jwt_secret and jwt_private_key:
        raise click.UsageError("give either --jwt-secret or --jwt-private-key, not both")
    if jwt_private_key is not None:
        key = jwt_private_key.read_text()
        try:
            algorithm = private_key_algorithm(key)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--jwt-private-key") from None
    elif jwt_secret:
        key = jwt_secret.encode()
        if len(key) < MIN_SECRET_BYTES:
            raise click.BadParameter(
                f"the secret has {len(key)} bytes; at least {MIN_SECRET_BYTES} are required",
                param_hint="--jwt-secret",
            )
    else:
        from ..embedded import read_runtime, runtime_dir, runtime_file

        path = runtime_file(port, runtime_dir())
        info = read_runtime(path)
        if info is None:
            fail(
                f"no secret: give --jwt-secret (or AGENT_RELAY_JWT_SECRET), or start an "
                f"embedded relay with 'agent-sidecar run' on port {port} (no {path})",
                ExitCode.USAGE,
            )
        key = info.secret
    click.echo(
        mint_token(
            key,
            sub=sub,
            role=cast(Role, role),
            agents=list(agents) or None,
            ttl=ttl,
            audience=audience,
            algorithm=algorithm,
        )
    )
