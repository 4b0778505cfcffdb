"""A small wrapper around the `sipp` binary: scenarios from templates, runs, parsed results."""

from callcenter.sipp.runner import Sipp, SippError, SippResult, SippServer
from callcenter.sipp.scenarios import (
    Step,
    dtmf,
    pause,
    register_scenario,
    uac_scenario,
    uas_scenario,
)

__all__ = ["Sipp", "SippError", "SippResult", "SippServer", "Step", "dtmf", "pause",
           "register_scenario", "uac_scenario",
           "uas_scenario"]
