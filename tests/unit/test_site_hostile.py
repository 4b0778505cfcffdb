"""Hostile and careless site files: refused quickly, located, never a traceback (issue 10)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from callcenter.errors import SiteError
from callcenter.site import load_site
from callcenter.site.limits import MAX_FILE_BYTES, MAX_VALUES
from callcenter.site.secrets import generate_secrets
from callcenter.site.yamlsrc import load_yaml

SITE = """\
company: {name: Test School, timezone: Asia/Shanghai}
sites:
  hq: {name: HQ, caller_id: "01080001000", phone_networks: [10.8.0.0/16]}
skills:
  sales: {}
agents:
  - {id: "1001", name: Wang, extension: "8001", site: hq, skills: {sales: 5}}
queues:
  sales: {name: Sales, skills: {sales: 2}, overflow: voicemail:sales}
trunks:
  ct: {host: 127.0.0.1, port: 5071}
  cu: {host: 127.0.0.1, port: 5072}
numbers:
  - {number: "4008001234", flow: main, first_route: ct, second_route: cu}
hours:
  std: {weekly: {mon: "09:00-18:00"}}
flows: {main: main.yaml}
prompts:
  hello: {text: hello}
fallback: {prompt: hello, extensions: ["8001"]}
asterisk: {sip_bind: 127.0.0.1}
"""
HANGUP = "entry: start\nnodes:\n  start: {type: hangup}\n"


def write(tmp_path: Path, text: str = SITE, flows: dict[str, str] | None = None) -> Path:
    """A site (secrets generated from the valid SITE first) with `text` written over it."""
    site = tmp_path / "site.yaml"
    site.write_text(SITE, encoding="utf-8")
    (tmp_path / "main.yaml").write_text(HANGUP, encoding="utf-8")
    from callcenter.site import load_site_file

    generate_secrets(load_site_file(site), tmp_path / "secrets.yaml")
    site.write_text(text, encoding="utf-8")
    for name, body in (flows or {}).items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    return site


def problems(tmp_path: Path, text: str = SITE, flows: dict[str, str] | None = None
             ) -> list[str]:
    site = write(tmp_path, text, flows)
    with pytest.raises(SiteError) as info:
        load_site(site, env={})
    return [str(p) for p in info.value.problems]


def laughs(levels: int = 9) -> str:
    lines = ['lol0: &lol0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- YAML bombs and sizes

@pytest.mark.security
def test_billion_laughs_is_refused_quickly_with_a_located_error(tmp_path: Path) -> None:
    text = SITE + laughs()
    assert len(text) < 6000
    start = time.monotonic()
    found = problems(tmp_path, text)
    elapsed = time.monotonic() - start
    assert elapsed < 10.0, f"took {elapsed:.2f} s"  # bounded: unbounded it never ends
    assert len(found) == 1
    assert "site.yaml:22:" in found[0]
    assert f"expands to more than {MAX_VALUES} values" in found[0]
    assert "use fewer aliases" in found[0]


@pytest.mark.security
def test_merge_key_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["m0: &m0 {a: 1, b: 2}"]
    for i in range(1, 12):
        lines.append(f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 10) + "]}")
    start = time.monotonic()
    src, errs = load_yaml(tmp_path / "x.yaml", "\n".join(lines))
    assert time.monotonic() - start < 10.0
    assert src is None and "expands to more than" in errs[0].message


def test_plain_merge_keys_still_work(tmp_path: Path) -> None:
    src, errs = load_yaml(tmp_path / "x.yaml", "base: &b {x: 1, y: 2}\nc: {<<: *b, y: 3}\n")
    assert not errs and src is not None
    assert src.data["c"] == {"x": 1, "y": 3}


@pytest.mark.security
def test_self_referencing_anchor_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    found = problems(tmp_path, SITE + "loop: &me [1, *me]\n")
    assert found == [f"{tmp_path / 'site.yaml'}:22:7: an alias refers to the value that "
                     "contains it — an anchor '&name' cannot be used inside itself"]


@pytest.mark.security
def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, SITE + "deep: " + "[" * 20000 + "]" * 20000 + "\n")
    assert len(found) == 1 and "nested more than 40 levels deep" in found[0]
    # aliases cannot stack nesting past the bound either
    chain = ["d0: &d0 " + "[" * 30 + "]" * 30] + [f"d{i}: &d{i} [[*d{i - 1}]]"
                                                  for i in range(1, 12)]
    src, errs = load_yaml(tmp_path / "x.yaml", "\n".join(chain))
    assert src is None and "nested more than 40" in errs[0].message


@pytest.mark.security
def test_too_many_aliases_are_refused(tmp_path: Path) -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 1001) + "]\n"
    src, errs = load_yaml(tmp_path / "x.yaml", text)
    assert src is None and errs[0].line == 2
    assert "more than 1000 aliases" in errs[0].message


@pytest.mark.security
def test_oversized_site_file_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, SITE + "# " + "x" * MAX_FILE_BYTES + "\n")
    assert found == [f"{tmp_path / 'site.yaml'}:1:1: the file is larger than "
                     f"{MAX_FILE_BYTES // 1024} kB — a site or flow file is far smaller — "
                     "check the path, or split flows into several files"]


@pytest.mark.security
def test_unreadable_values_are_located_not_tracebacks(tmp_path: Path) -> None:
    src, errs = load_yaml(tmp_path / "x.yaml", "a: " + "1" * 5000 + "\n")
    assert src is None and (errs[0].line, errs[0].column) == (1, 4)
    text = SITE.replace('  std: {weekly: {mon: "09:00-18:00"}}',
                        '  std: {weekly: {mon: "09:00-18:00"}, holidays: [2026-02-30]}')
    found = problems(tmp_path, text)
    assert len(found) == 1 and "hours.std.holidays[0]" in found[0]


# ---------------------------------------------------------------- flow files that are no files

@pytest.mark.security
@pytest.mark.parametrize("kind", ["device", "fifo", "folder", "huge"])
def test_flow_path_that_is_no_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    if kind == "device":
        target = "/dev/zero"
    elif kind == "fifo":
        os.mkfifo(tmp_path / "pipe.yaml")
        target = "pipe.yaml"
    elif kind == "folder":
        (tmp_path / "dir.yaml").mkdir()
        target = "dir.yaml"
    else:
        (tmp_path / "big.yaml").write_bytes(b"#" * (MAX_FILE_BYTES + 1))
        target = "big.yaml"
    start = time.monotonic()
    found = problems(tmp_path, SITE.replace("main: main.yaml", f"main: {target}"))
    assert time.monotonic() - start < 2.0
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'site.yaml'}:17:9: ")
    assert f"flows.main: flow file {target} " in found[0]
    assert "point it at a regular .yaml flow file" in found[0]


@pytest.mark.security
def test_load_yaml_never_blocks_on_a_fifo_or_reads_a_device(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p")
    for path, what in ((tmp_path / "p", "a FIFO"), (Path("/dev/zero"), "a device"),
                       (tmp_path, "a folder")):
        src, errs = load_yaml(path)
        assert src is None and errs[0].message == f"this is {what}, not a YAML file"
