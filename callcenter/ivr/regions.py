"""Which site's region a caller belongs to: the flows' `region:` branch (caller_region)."""

from __future__ import annotations

import logging
import re

from callcenter.errors import CallcenterError
from callcenter.ivr.contacts import normalise_number
from callcenter.site.model import Site

__all__ = ["region_of"]

log = logging.getLogger(__name__)

_MOBILE = re.compile(r"1[3-9]\d{9}")


def region_of(site: Site, number: str) -> str:
    """The site whose area_codes prefix the caller's number (longest prefix wins), else for
    a mobile the first site whose provinces hold the number's region (号码归属地)."""
    digits = normalise_number(number)
    best, best_len = "", 0
    for key, s in site.spec.sites.items():
        for code in s.area_codes:
            for form in (code, code.lstrip("0")):
                if form and digits.startswith(form) and len(form) > best_len:
                    best, best_len = key, len(form)
    # only a mobile falls back to its 号码归属地 (a landline's area code is in area_codes)
    if best or not _MOBILE.fullmatch(digits) or not any(
            s.provinces for s in site.spec.sites.values()):
        return best
    from callcenter.outbound import region

    try:
        found = region.lookup(digits, region.overrides_for(site.spec.outbound, site.base_dir))
    except CallcenterError as exc:  # a broken override CSV must not drop the call
        log.warning("caller region of %s: %s", digits, exc)
        return ""
    if found.kind != "mobile" or not found.province:
        return ""
    for key, s in site.spec.sites.items():
        if found.province in {region.short_name(p) for p in s.provinces}:
            return key
    return ""
