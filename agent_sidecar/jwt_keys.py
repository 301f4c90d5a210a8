"""Which JWT algorithm a PEM key implies (RS256 for RSA keys, ES256 for P-256 keys)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)


def _algorithm(key: object) -> str:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        if key.curve.name != "secp256r1":
            raise ValueError(f"ES256 needs a P-256 key, not {key.curve.name}")
        return "ES256"
    raise ValueError("the key must be an RSA or an EC (P-256) key")


def public_key_algorithm(pem: str) -> str:
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        raise ValueError("not a PEM public key") from None
    return _algorithm(key)


def private_key_algorithm(pem: str) -> str:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("not an unencrypted PEM private key") from None
    return _algorithm(key)
