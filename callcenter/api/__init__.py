"""The HTTP API for the booking system and the CRM (docs/api.md): `create_app` builds the
FastAPI app, `ApiServer`/`serve` run it with uvicorn in the daemon's event loop."""

from callcenter.api.app import create_app
from callcenter.api.server import ApiError, ApiServer, serve

__all__ = ["ApiError", "ApiServer", "create_app", "serve"]
