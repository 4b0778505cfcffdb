"""Finding, starting, stopping and talking to the Asterisk that runs a rendered site."""

from callcenter.asterisk.install import Installation, locate
from callcenter.asterisk.launcher import cli, is_running, start, stop

__all__ = ["Installation", "cli", "is_running", "locate", "start", "stop"]
