"""The JWT matrix of contract section 2 and the scope/role helpers of ``Claims``."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from relay.auth import AuthError, Claims, mint_token, verify
from relay.config import RelayConfig

SECRET = b"unit-test-secret-long-enough-for-hs256-0123456789"
HS = RelayConfig(jwt_secret=SECRET)


def _pem_pair(private: Any) -> tuple[bytes, str]:
    priv = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pub = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return priv, pub


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[bytes, str]:
    return _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ec_keys() -> tuple[bytes, str]:
    return _pem_pair(ec.generate_private_key(ec.SECP256R1()))


def _payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "sub": "alice", "role": "viewer", "aud": "agent-relay", "exp": int(time.time()) + 60,
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def test_hs256_token_verifies_into_claims() -> None:
    claims = verify(mint_token(SECRET, sub="alice", role="operator", agents=["a*"]), HS)
    assert (claims.sub, claims.role, claims.agents) == ("alice", "operator", ("a*",))


def test_alg_none_is_refused() -> None:
    token = jwt.encode(_payload(), None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(AuthError):
        verify(token, HS)


def test_wrong_secret_is_refused() -> None:
    token = mint_token(b"another-secret-that-is-long-enough-0123456789", sub="a", role="viewer")
    with pytest.raises(AuthError, match="signature"):
        verify(token, HS)


def test_expired_token_is_refused() -> None:
    token = mint_token(SECRET, sub="a", role="viewer", now=time.time() - 120, ttl=60)
    with pytest.raises(AuthError, match="expired"):
        verify(token, HS)


def test_wrong_audience_is_refused() -> None:
    token = mint_token(SECRET, sub="a", role="viewer", audience="someone-else")
    with pytest.raises(AuthError, match="audience"):
        verify(token, HS)


def test_configured_audience_is_required() -> None:
    token = mint_token(SECRET, sub="a", role="viewer")
    with pytest.raises(AuthError, match="audience"):
        verify(token, dataclasses.replace(HS, audience="prod-relay"))


@pytest.mark.parametrize("claim", ["exp", "sub", "role", "aud"])
def test_missing_required_claim_is_refused(claim: str) -> None:
    token = jwt.encode(_payload(**{claim: None}), SECRET, algorithm="HS256")
    with pytest.raises(AuthError):
        verify(token, HS)


@pytest.mark.parametrize(
    ("claim", "value"),
    [("role", "root"), ("role", 3), ("sub", ""), ("sub", 7), ("agents", "a*"), ("agents", [1]),
     ("exp", 10**400), ("exp", "4102444800"), ("exp", float("inf")), ("exp", True)],
)
def test_malformed_claim_is_refused(claim: str, value: Any) -> None:
    token = jwt.encode(_payload(**{claim: value}), SECRET, algorithm="HS256")
    with pytest.raises(AuthError):
        verify(token, HS)


def test_garbage_token_is_refused() -> None:
    with pytest.raises(AuthError):
        verify("not.a.jwt", HS)


def test_empty_token_is_refused() -> None:
    with pytest.raises(AuthError, match="no token"):
        verify("", HS)


def test_rs256_token_verifies_with_the_public_key(rsa_keys: tuple[bytes, str]) -> None:
    private, public = rsa_keys
    config = RelayConfig(jwt_public_key=public, jwt_algorithm="RS256")
    token = mint_token(private, sub="bob", role="admin", algorithm="RS256")
    assert verify(token, config).role == "admin"


def test_es256_token_verifies_with_the_public_key(ec_keys: tuple[bytes, str]) -> None:
    private, public = ec_keys
    config = RelayConfig(jwt_public_key=public, jwt_algorithm="ES256")
    assert verify(mint_token(private, sub="c", role="viewer", algorithm="ES256"), config).sub == "c"


def test_hs256_token_signed_with_the_rs_public_key_is_refused(
    rsa_keys: tuple[bytes, str],
) -> None:
    _, public = rsa_keys
    config = RelayConfig(jwt_public_key=public, jwt_algorithm="RS256")
    # The classic confusion: sign HS256 using the (public) PEM text as the HMAC secret.
    import hashlib
    import hmac
    import json
    from base64 import urlsafe_b64encode

    def b64(b: bytes) -> bytes:
        return urlsafe_b64encode(b).rstrip(b"=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(_payload(role="admin")).encode())
    sig = b64(hmac.new(public.encode(), header + b"." + body, hashlib.sha256).digest())
    token = (header + b"." + body + b"." + sig).decode()
    with pytest.raises(AuthError):
        verify(token, config)


def test_rs256_token_is_refused_by_an_hs256_relay(rsa_keys: tuple[bytes, str]) -> None:
    private, _ = rsa_keys
    with pytest.raises(AuthError):
        verify(mint_token(private, sub="a", role="viewer", algorithm="RS256"), HS)


def test_auth_error_never_quotes_the_token() -> None:
    token = mint_token(SECRET, sub="a", role="viewer", audience="x")
    with pytest.raises(AuthError) as info:
        verify(token, HS)
    assert token not in str(info.value)


def test_claims_repr_holds_no_token() -> None:
    token = mint_token(SECRET, sub="a", role="viewer")
    assert token not in repr(verify(token, HS))


def test_mint_token_refuses_an_unknown_role() -> None:
    with pytest.raises(ValueError, match="role"):
        mint_token(SECRET, sub="a", role="root")  # type: ignore[arg-type]


def _claims(role: str, sub: str = "s", agents: tuple[str, ...] | None = None) -> Claims:
    return Claims(sub=sub, role=role, agents=agents, exp=0.0)  # type: ignore[arg-type]


SCOPE_TABLE = [
    # role, sub, agents, agent_id, may_see
    ("viewer", "v", None, "anything", True),
    ("admin", "ad", ("build-*",), "build-1", True),
    ("admin", "ad", ("build-*",), "deploy-1", False),
    ("operator", "o", ("a", "b?"), "b1", True),
    ("operator", "o", ("a", "b?"), "b12", False),
    ("operator", "o", ("web-*",), "WEB-1", False),
    ("operator", "o", (), "a", False),
    ("agent", "a1", None, "a1", True),
    ("agent", "a1", None, "a2", False),
    ("agent", "host", ("host:*",), "host:1", True),
    ("agent", "host", ("host:*",), "host", False),
]


@pytest.mark.parametrize(("role", "sub", "agents", "agent_id", "expected"), SCOPE_TABLE)
def test_may_see_follows_the_scope_table(
    role: str, sub: str, agents: tuple[str, ...] | None, agent_id: str, expected: bool
) -> None:
    assert _claims(role, sub, agents).may_see(agent_id) is expected


@pytest.mark.parametrize(
    ("role", "agent_id", "expected"),
    [("agent", "me", True), ("agent", "other", False), ("admin", "me", False),
     ("operator", "me", False)],
)
def test_may_register_only_as_an_agent_within_scope(
    role: str, agent_id: str, expected: bool
) -> None:
    assert _claims(role, "me").may_register(agent_id) is expected


@pytest.mark.parametrize(
    ("role", "control", "dashboard"),
    [("viewer", False, True), ("operator", True, True), ("admin", True, True),
     ("agent", False, False)],
)
def test_role_table(role: str, control: bool, dashboard: bool) -> None:
    claims = _claims(role)
    assert (claims.can_control, claims.is_dashboard) == (control, dashboard)
