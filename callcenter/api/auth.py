"""Bearer tokens per API client (the secrets file's api_clients) and their scopes."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from callcenter.api.problems import ApiProblem

__all__ = ["Authenticator", "Client", "bearer", "require"]

bearer = HTTPBearer(auto_error=False, description="A client token from the secrets file's "
                    "api_clients (docs/api.md)")
_REALM = 'Bearer realm="callcenter"'
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass(frozen=True)
class Client:
    name: str
    scopes: frozenset[str]


def _digest(token: str) -> bytes:
    # equal-length digests: compare_digest then leaks neither the token nor its length
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class Authenticator:
    """Which client a bearer token belongs to; every client's token is compared, so the
    time taken says nothing about which one (nearly) matched."""

    def __init__(self, clients: Mapping[str, tuple[str, frozenset[str]]]):
        self._clients = [(_digest(token), Client(name, frozenset(scopes)))
                         for name, (token, scopes) in clients.items() if token]

    def client(self, token: str | None) -> Client:
        if not token:
            raise ApiProblem(401, "unauthenticated", "Authentication required",
                             "send 'Authorization: Bearer <token>' with a client token from "
                             "the call centre's secrets file (api_clients)",
                             headers={"WWW-Authenticate": _REALM})
        digest = _digest(token)
        found: Client | None = None
        for stored, client in self._clients:
            if hmac.compare_digest(stored, digest):
                found = client
        if found is None:
            raise ApiProblem(401, "bad-token", "Unknown token",
                             "the bearer token matches no API client — check the token in "
                             "the call centre's secrets file (api_clients)",
                             headers={"WWW-Authenticate": _REALM + ', error="invalid_token"'})
        return found


def require(scope: str) -> Callable[..., Awaitable[Client]]:
    """A dependency: the calling client, which must hold `scope`."""

    async def dependency(request: Request, cred: Credentials) -> Client:
        auth: Authenticator = request.app.state.api.auth
        client = auth.client(cred.credentials if cred else None)
        if scope not in client.scopes:
            raise ApiProblem(403, "scope", "Not allowed for this client",
                             f"client '{client.name}' lacks the scope '{scope}' — add it to "
                             f"api_clients.{client.name}.scopes in the secrets file")
        return client

    return dependency
