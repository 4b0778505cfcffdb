"""The README's site-file table, docs/routing.md and `callcenter init --help` say what the
site model and the example site are (issue 11)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.site.model import AcdSettings, Queue, SiteFile

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ROUTING = (ROOT / "docs" / "routing.md").read_text(encoding="utf-8")
EXAMPLE = yaml.safe_load((ROOT / "callcenter" / "example" / "site.yaml").read_text(
    encoding="utf-8"))
WORDS = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


def table_rows() -> dict[str, str]:
    start = README.index("## The site file")
    rows = re.findall(r"^\| `([a-z_]+)` \| (.*) \|$", README[start:], re.M)
    return dict(rows)


def test_every_section_of_the_site_file_has_a_row() -> None:
    rows = table_rows()
    assert [f.name for f in dataclasses.fields(SiteFile) if f.name not in rows] == []


def test_new_settings_are_named_in_the_table_and_routing_doc() -> None:
    rows = table_rows()
    for name in ("expand_levels", "overflow_site", "handle_time_seconds"):
        assert name in {f.name for f in dataclasses.fields(Queue)}
        assert f"`{name}`" in rows["queues"]
        assert f"`queues.NAME.{name}`" in ROUTING
    for f in dataclasses.fields(AcdSettings):
        assert f"`{f.name}`" in rows["acd"]
        assert f"`acd.{f.name}`" in ROUTING
    assert "`dtmf_mode`" in rows["trunks"] and "`phone_dtmf_mode`" in rows["asterisk"]


def test_the_queue_count_of_the_example_agrees_everywhere() -> None:
    word = WORDS[len(EXAMPLE["queues"])]
    assert f"two sites, {word} queues" in README
    res = CliRunner().invoke(main, ["init", "--help"])
    assert res.exit_code == 0, res.output
    assert f"{word} queues" in " ".join(res.output.split())


def test_flows_doc_does_not_wait_for_the_acd() -> None:
    text = (ROOT / "docs" / "flows.md").read_text(encoding="utf-8")
    assert "Until the ACD lands" not in text
    assert "routing.md" in text[text.index("### queue"):text.index("### transfer")]
