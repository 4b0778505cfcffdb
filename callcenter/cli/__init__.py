"""The `callcenter` command line: one click group, its commands in small modules."""

from __future__ import annotations

import click

from callcenter import __version__
from callcenter.cli import (
    agent_cmds,
    asterisk_cmds,
    callerid_cmds,
    campaign_cmds,
    contacts_cmds,
    daemon_cmds,
    db_cmds,
    export_cmds,
    ivr_cmds,
    node_cmds,
    report_cmds,
    site_cmds,
    top_cmd,
)

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="callcenter")
def main() -> None:
    """On-premise contact centre on Asterisk: describe the site in YAML, render, run."""


for command in (*site_cmds.COMMANDS, asterisk_cmds.asterisk, *daemon_cmds.COMMANDS,
                *ivr_cmds.COMMANDS, *db_cmds.COMMANDS, *report_cmds.COMMANDS,
                *export_cmds.COMMANDS, *top_cmd.COMMANDS,
                *contacts_cmds.COMMANDS, *agent_cmds.COMMANDS,
                *callerid_cmds.COMMANDS, *campaign_cmds.COMMANDS, *node_cmds.COMMANDS):
    main.add_command(command)
