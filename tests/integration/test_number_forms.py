"""Every form a carrier sends of a DID that starts with 0 reaches that number's flow."""

from __future__ import annotations

import dataclasses
import re

import pytest

from callcenter.render import render_files
from callcenter.sipp import Sipp, uac_scenario
from callcenter.site.model import NumberDef
from tests.fix_asterisk import RunningAsterisk

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

DID = "02787654321"


def test_plus86_86_and_local_forms_of_a_did_land_on_its_flow(asterisk: RunningAsterisk,
                                                             sipp: Sipp) -> None:
    site = asterisk.site
    extra = NumberDef(number=DID, flow="main", first_route="telecom", second_route="unicom",
                      kind="did")
    spec = dataclasses.replace(site.spec, numbers=[*site.spec.numbers, extra])
    wider = dataclasses.replace(site, spec=spec)
    path = asterisk.conf_dir / "extensions.conf"
    original = path.read_text(encoding="utf-8")
    # only the dialplan changes (same secrets, same out folder): reload it, then put it back
    path.write_text(render_files(wider, asterisk.conf_dir)["extensions.conf"], encoding="utf-8")
    try:
        asterisk.cli("dialplan reload")
        for form in ("+862787654321", "862787654321", "87654321"):
            before = len(re.findall(rf"callcenter inbound {DID}", asterisk.log()))
            result = sipp.run(uac_scenario(), service=form, calls=1, timeout=30)
            assert result.successful == 1, (form, result.errors)
            assert len(re.findall(rf"callcenter inbound {DID}", asterisk.log())) > before, form
        refused = sipp.run(uac_scenario(), service="+8602787654321", calls=1, timeout=20)
        assert refused.successful == 0 and refused.failed == 1
    finally:
        path.write_text(original, encoding="utf-8")
        asterisk.cli("dialplan reload")
