"""Read YAML into plain Python values while remembering where each value was written."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from callcenter.errors import Problem

__all__ = ["Located", "Source", "load_yaml"]

PathKey = tuple[str | int, ...]


@dataclass
class Source:
    """A parsed YAML document and the line/column of every key and value in it."""

    file: str
    data: Any
    # (line, column), 1-based, of each value by its path from the root
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: PathKey) -> tuple[int, int]:
        """Position of `path`, or of its nearest ancestor that was written down."""
        p = tuple(path)
        while p:
            if p in self.marks:
                return self.marks[p]
            p = p[:-1]
        return self.marks.get((), (1, 1))

    def problem(self, path: PathKey, message: str, hint: str = "") -> Problem:
        line, col = self.where(path)
        return Problem(self.file, line, col, dotted(path), message, hint)


@dataclass(frozen=True)
class Located:
    """A value that came from a file, with its source and path (for later checks)."""

    source: Source
    path: PathKey


def dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"


def _scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    # Telephone numbers and extensions are digit strings: "010..." must not become 10 or octal
    if node.tag == _INT_TAG and node.style is None:
        text = node.value
        if len(text) > 1 and text[0] == "0" and text.isdigit():
            return text
    if node.tag == "tag:yaml.org,2002:timestamp":
        value = loader.construct_object(node)
        if isinstance(value, _dt.datetime | _dt.date):
            return node.value  # keep dates as written; the model parses them
    return loader.construct_object(node)


def load_yaml(path: Path | str, text: str | None = None) -> tuple[Source | None, list[Problem]]:
    """Parse one YAML file; return its Source or the problems that stopped it."""
    file = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, [Problem(file, 1, 1, "", "file not found", "check the path")]
        except UnicodeDecodeError as exc:
            return None, [Problem(file, 1, 1, "", f"not UTF-8 text ({exc.reason})",
                                  "save the file as UTF-8")]
        except OSError as exc:
            return None, [Problem(file, 1, 1, "", f"cannot read the file: {exc.strerror}",
                                  "check its permissions")]
    loader = yaml.SafeLoader(text)
    problems: list[Problem] = []
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        return None, [Problem(file, line, col, "", f"YAML syntax error: {what}",
                              "fix the indentation or quoting near this point")]
    except yaml.YAMLError as exc:
        return None, [Problem(file, 1, 1, "", f"YAML error: {exc}", "fix the YAML syntax")]
    finally:
        loader.dispose()
    src = Source(file, None)
    if node is None:
        src.data = {}
        src.marks[()] = (1, 1)
        return src, problems

    def build(n: yaml.Node, path: PathKey) -> Any:
        src.marks[path] = (n.start_mark.line + 1, n.start_mark.column + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            loader.flatten_mapping(n)
            for knode, vnode in n.value:
                key = _scalar(loader, knode) if isinstance(knode, yaml.ScalarNode) else None
                if key is None or isinstance(key, list | dict):
                    problems.append(src.problem(path, "a key must be a plain word or number",
                                                "write the key as text"))
                    continue
                key = str(key) if not isinstance(key, str) else key
                kpath = (*path, key)
                if key in out:
                    line, col = knode.start_mark.line + 1, knode.start_mark.column + 1
                    first = src.marks.get(kpath, (0, 0))[0]
                    problems.append(Problem(file, line, col, dotted(kpath),
                                            f"key written twice (first on line {first})",
                                            "keep one of them"))
                    continue
                out[key] = build(vnode, kpath)
                # a key's own position beats its value's for messages about the key
                src.marks[kpath] = (knode.start_mark.line + 1, knode.start_mark.column + 1)
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(n.value)]
        return _scalar(loader, n)

    loader = yaml.SafeLoader("")
    try:
        src.data = build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Problem(file, line, col, "", f"YAML error: {exc.problem}",
                              "write a plain value here")]
    finally:
        loader.dispose()
    return src, problems
