"""FastAGI: Asterisk hands calls to the daemon over TCP; the daemon answers with commands."""

from callcenter.agi.protocol import AgiError, AgiResponse, quote
from callcenter.agi.server import AgiServer
from callcenter.agi.session import AgiHangup, AgiSession

__all__ = ["AgiError", "AgiHangup", "AgiResponse", "AgiServer", "AgiSession", "quote"]
