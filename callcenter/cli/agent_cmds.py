"""`callcenter agent unlock`: lift a desk-phone login lock through the running daemon."""

from __future__ import annotations

import re
from pathlib import Path

import click

from callcenter.cli.common import conf_option, reported
from callcenter.errors import CallcenterError

__all__ = ["COMMANDS"]


@click.group()
def agent() -> None:
    """Agents at the running daemon."""


@agent.command()
@click.argument("agent_id", required=False)
@click.option("--phone", default=None, help="Unlock this desk phone's extension instead.")
@conf_option
def unlock(agent_id: str | None, phone: str | None, conf_dir: Path) -> None:
    """Let AGENT_ID (or the phone --phone EXT) log in again after too many wrong PINs."""
    from callcenter.daemon.paths import daemon_paths
    from callcenter.daemon.status import send_request

    with reported():
        for value, what in ((agent_id, "agent id"), (phone, "phone extension")):
            if value is not None and not re.fullmatch(r"\d{1,8}", value):
                raise click.BadParameter(f"{value!r} is not an {what} (digits)")
        if not agent_id and not phone:
            raise click.UsageError("give an agent id, or --phone EXT")
        answer = send_request(daemon_paths(conf_dir).socket,
                              {"request": "unlock", "agent": agent_id or "",
                               "phone": phone or ""})
        if "error" in answer:
            raise CallcenterError(f"the daemon refused: {answer['error']}")
        who = " and ".join(x for x in (agent_id and f"agent {agent_id}",
                                       phone and f"phone {phone}") if x)
        click.echo(f"{who}: unlocked" if answer.get("unlocked")
                   else f"{who}: was not locked")


COMMANDS = (agent,)
