"""Identity for the HTTP adapters: verify JWTs and map them onto the policy context.

Public entry points only; the work happens in the private `_jwt`, `_jwks`, `_claims` and
`_authn` modules so each stays small. Needs the `jwt` extra (PyJWT with cryptography) and httpx.
"""

from __future__ import annotations

from ._authn import (
    AppUserAuth,
    Authenticator,
    AuthInput,
    AuthResult,
    BearerAuth,
    CloudflareAccessAuth,
    PostureHeader,
)
from ._claims import (
    MFA_AMR_VALUES,
    ClaimsMapping,
    device_from_claims,
    device_from_mapping,
    identity_from_claims,
)
from ._errors import IdentityError
from ._jwt import JWTVerifier, VerifiedToken

__all__ = [
    "MFA_AMR_VALUES",
    "AppUserAuth",
    "AuthInput",
    "AuthResult",
    "Authenticator",
    "BearerAuth",
    "ClaimsMapping",
    "CloudflareAccessAuth",
    "IdentityError",
    "JWTVerifier",
    "PostureHeader",
    "VerifiedToken",
    "device_from_claims",
    "device_from_mapping",
    "identity_from_claims",
]
