"""JWT authentication, pure pyjwt: :func:`verify` a token into :class:`Claims`.

Contract section 2: only the configured algorithm, the relay's audience, required
``exp``, ``sub`` and ``role``; optional ``agents``, a list of ``fnmatch`` patterns that
restrict every role. Tokens are never logged, and never part of a ``repr`` or an error
message.

Exceptions::

    AuthError       the token is missing, malformed, badly signed, expired, for another
                    audience, or lacks a required claim
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, cast

import jwt

from relay.config import DEFAULT_AUDIENCE, RelayConfig
from relay.protocol import ROLES, Role, is_agent_id

DEFAULT_TTL = 3600.0
CONTROL_ROLES: frozenset[str] = frozenset({"operator", "admin"})
DASHBOARD_ROLES: frozenset[str] = frozenset({"viewer", "operator", "admin"})


class AuthError(Exception):
    """The token was refused; the message says why without quoting the token."""


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified claims of a token."""

    sub: str
    role: Role
    #: Glob patterns (``fnmatch``, case-sensitive) or None when the claim is absent.
    agents: tuple[str, ...] | None
    exp: float

    def may_see(self, agent_id: str) -> bool:
        """Whether this token may see or control ``agent_id`` (scope only, not role).

        Without ``agents`` a dashboard token sees every agent and an agent token only
        its own ``sub``.
        """
        if not is_agent_id(agent_id):
            return False
        if self.agents is None:
            return self.role != "agent" or agent_id == self.sub
        return any(fnmatchcase(agent_id, pattern) for pattern in self.agents)

    def may_register(self, agent_id: str) -> bool:
        """Whether a sidecar with this token may register as ``agent_id``."""
        return self.role == "agent" and self.may_see(agent_id)

    @property
    def can_control(self) -> bool:
        """Operator and admin may send input, commands, resizes and interrupts."""
        return self.role in CONTROL_ROLES

    @property
    def is_dashboard(self) -> bool:
        """Viewer, operator and admin may use ``/ws/dashboard`` and the REST API."""
        return self.role in DASHBOARD_ROLES


def _key(config: RelayConfig) -> str | bytes:
    if config.jwt_secret is not None:
        return config.jwt_secret
    assert config.jwt_public_key is not None  # RelayConfig guarantees one of them
    return config.jwt_public_key


def verify(token: str, config: RelayConfig) -> Claims:
    """Verify ``token`` against the relay's key, algorithm and audience."""
    if not token:
        raise AuthError("no token was presented")
    try:
        payload = jwt.decode(
            token,
            _key(config),
            algorithms=[config.jwt_algorithm],
            audience=config.audience,
            options={"require": ["exp", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("the token has expired") from None
    except jwt.InvalidAudienceError:
        raise AuthError(f"the token is not for audience '{config.audience}'") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"the token lacks the required claim '{exc.claim}'") from None
    except jwt.InvalidAlgorithmError:
        raise AuthError(f"the token is not signed with {config.jwt_algorithm}") from None
    except jwt.InvalidSignatureError:
        raise AuthError("the token's signature does not verify") from None
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
        raise AuthError(f"the token is invalid ({type(exc).__name__})") from None
    return _claims(payload)


def _claims(payload: Mapping[str, Any]) -> Claims:
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        raise AuthError("claim 'sub' must be a non-empty string")
    role = payload.get("role")
    if role not in ROLES:
        raise AuthError(f"claim 'role' must be one of {', '.join(ROLES)}, got {role!r}"[:200])
    agents = payload.get("agents")
    if agents is not None and (
        not isinstance(agents, list) or not all(isinstance(p, str) for p in agents)
    ):
        raise AuthError("claim 'agents' must be a list of strings")
    return Claims(
        sub=sub,
        role=cast(Role, role),
        agents=tuple(agents) if agents is not None else None,
        exp=_exp(payload["exp"]),
    )


#: Later than any real expiry (year ~33658), and exact as a float.
_MAX_EXP = 1e12


def _exp(value: object) -> float:
    """``exp`` as a JSON number (RFC 7519 NumericDate): pyjwt also takes a numeric string
    and any huge integer, which would then fail far from here (``float(10**400)``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AuthError("claim 'exp' must be a number")
    if not -_MAX_EXP < value < _MAX_EXP:
        raise AuthError("claim 'exp' is out of range")
    return float(value)


def mint_token(
    key: str | bytes,
    *,
    sub: str,
    role: Role,
    agents: list[str] | tuple[str, ...] | None = None,
    ttl: float = DEFAULT_TTL,
    audience: str = DEFAULT_AUDIENCE,
    algorithm: str = "HS256",
    now: float | None = None,
) -> str:
    """A signed token: ``key`` is the HS256 secret or the RS256/ES256 private key (PEM)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not math.isfinite(ttl):
        raise ValueError(f"ttl must be a finite number of seconds, got {ttl}")
    issued = time.time() if now is None else now
    payload: dict[str, Any] = {
        "sub": sub,
        "role": role,
        "aud": audience,
        "iat": int(issued),
        "exp": int(issued + ttl),
    }
    if agents is not None:
        payload["agents"] = list(agents)
    return jwt.encode(payload, key, algorithm=algorithm)
