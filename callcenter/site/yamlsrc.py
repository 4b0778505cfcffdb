"""Read YAML into plain Python values while remembering where each value was written."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from callcenter.errors import Problem
from callcenter.site.limits import MAX_ALIASES, MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES

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
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(Exception):
    """A file refused before or while it is built: where, what, and how to fix it."""

    def __init__(self, mark: yaml.Mark | None, message: str, hint: str):
        super().__init__(message)
        self.where = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        self.message = message
        self.hint = hint


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that stops composing at MAX_ALIASES alias uses or MAX_DEPTH nesting."""

    def __init__(self, text: str):
        super().__init__(text)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(self.peek_event().start_mark,
                               f"more than {MAX_ALIASES} aliases ('*name') in one file",
                               "write the values out instead of repeating anchors")
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(self.peek_event().start_mark,
                               f"values nested more than {MAX_DEPTH} levels deep",
                               "a site or flow file needs only a few levels — flatten it")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    # Telephone numbers and extensions are digit strings: "010..." must not become 10 or octal
    if node.tag == _INT_TAG and node.style is None:
        text = node.value
        if len(text) > 1 and text[0] == "0" and text.isdigit():
            return text
    if node.tag == "tag:yaml.org,2002:timestamp":
        return node.value  # keep dates as written; the model parses them (and says why not)
    try:
        return loader.construct_object(node)
    except ValueError:  # e.g. an integer of more digits than Python converts
        raise _Refused(node.start_mark, f"value {node.value[:20]!r}… cannot be read",
                       "quote it or shorten it") from None


def _read(path: Path) -> str:
    """The text of a regular file of at most MAX_FILE_BYTES (never a device, FIFO or folder:
    /dev/zero would fill the memory, a FIFO would block)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise _Refused(None, "file not found", "check the path") from None
    except OSError as exc:
        raise _Refused(None, f"cannot read the file: {exc.strerror}",
                       "check its permissions") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise _Refused(None, f"this is {kind}, not a YAML file",
                       "point the path at a regular .yaml file")
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise _Refused(None, f"cannot read the file: {exc.strerror}",
                           "check the file") from None
    if len(data) > MAX_FILE_BYTES:
        raise _Refused(None, f"the file is larger than {MAX_FILE_BYTES // 1024} kB",
                       "a site or flow file is far smaller — check the path, or split flows "
                       "into several files")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refused(None, f"not UTF-8 text ({exc.reason})", "save the file as UTF-8") from None


def load_yaml(path: Path | str, text: str | None = None) -> tuple[Source | None, list[Problem]]:
    """Parse one YAML file; return its Source or the problems that stopped it.

    Refused with a located problem, never an exception: files that are not regular or too
    large, and alias bombs (MAX_ALIASES, MAX_VALUES), deep nesting (MAX_DEPTH) and aliases
    that contain themselves."""
    file = str(path)
    try:
        if text is None:
            text = _read(Path(path))
        elif len(text) > MAX_FILE_BYTES:
            raise _Refused(None, f"the file is larger than {MAX_FILE_BYTES // 1024} kB",
                           "shorten it")
        return _load(file, text)
    except _Refused as exc:
        return None, [Problem(file, *exc.where, "", exc.message, exc.hint)]


def _load(file: str, text: str) -> tuple[Source | None, list[Problem]]:
    loader = _BoundedLoader(text)
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
    count = 0
    active: set[int] = set()  # nodes being built: meeting one again is a self-reference

    def build(n: yaml.Node, path: PathKey) -> Any:
        nonlocal count
        count += 1
        if count > MAX_VALUES:
            raise _Refused(n.start_mark, f"the file expands to more than {MAX_VALUES} values "
                           "(aliases '*name' repeat their anchor's content)",
                           "use fewer aliases, or write the values out")
        if len(path) > MAX_DEPTH:
            raise _Refused(n.start_mark, f"values nested more than {MAX_DEPTH} levels deep "
                           "(aliases included)", "flatten the structure")
        if id(n) in active:
            raise _Refused(n.start_mark, "an alias refers to the value that contains it",
                           "an anchor '&name' cannot be used inside itself")
        src.marks[path] = (n.start_mark.line + 1, n.start_mark.column + 1)
        if isinstance(n, yaml.ScalarNode):
            return _scalar(constructor, n)
        active.add(id(n))
        try:
            if isinstance(n, yaml.MappingNode):
                return mapping(n, path)
            return [build(item, (*path, i)) for i, item in enumerate(n.value)]
        finally:
            active.discard(id(n))

    def merged(n: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        # '<<: *anchor' keys, built (and counted) by us: PyYAML's own merge copies
        # key lists without bound
        out: dict[str, Any] = {}
        here = src.marks[path]
        for knode, vnode in n.value:
            if knode.tag != _MERGE_TAG:
                continue
            for sub in vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]:
                if not isinstance(sub, yaml.MappingNode):
                    raise _Refused(sub.start_mark, "'<<' merges only mappings",
                                   "write '<<: *anchor' naming a mapping")
                for key, value in build(sub, path).items():
                    out.setdefault(key, value)
        src.marks[path] = here
        return out

    def mapping(n: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        out: dict[str, Any] = {}
        inherited = merged(n, path)
        for knode, vnode in n.value:
            if knode.tag == _MERGE_TAG:
                continue
            key = _scalar(constructor, knode) if isinstance(knode, yaml.ScalarNode) else None
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
        for key, value in inherited.items():
            out.setdefault(key, value)
        return out

    constructor = yaml.SafeLoader("")
    try:
        src.data = build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Problem(file, line, col, "", f"YAML error: {exc.problem}",
                              "write a plain value here")]
    finally:
        constructor.dispose()
    return src, problems
