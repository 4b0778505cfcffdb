"""Pictures of a flow: Graphviz dot, Mermaid, or SVG (dot rendered by Graphviz)."""

from __future__ import annotations

import shutil
import subprocess

from callcenter.errors import CallcenterError
from callcenter.site import flownodes as n
from callcenter.site.flowcheck import edges

__all__ = ["to_dot", "to_mermaid", "to_svg"]

_SHAPES = {"menu": "diamond", "input": "parallelogram", "branch": "hexagon",
           "queue": "doubleoctagon", "transfer": "doubleoctagon", "voicemail": "doubleoctagon",
           "hangup": "doublecircle", "goto": "cds"}


def _label(name: str, node: object) -> str:
    kind = type(node).__name__.lower()
    extra = ""
    if isinstance(node, n.Queue):
        extra = f"\\nqueue {node.queue}"
    elif isinstance(node, n.Transfer):
        extra = f"\\nto {node.to}"
    elif isinstance(node, n.Goto):
        extra = f"\\nflow {node.flow}"
    elif isinstance(node, n.Play):
        extra = "\\n" + ", ".join(node.prompts)
    return f"{name}\\n[{kind}]{extra}"


def _q(text: str) -> str:
    return text.replace('"', "'")


def to_dot(flow: n.Flow) -> str:
    lines = [f'digraph "{_q(flow.name)}" {{', "  rankdir=TB;",
             '  node [fontname="Helvetica", shape=box, style=rounded];',
             '  start [shape=point];', f'  start -> "{flow.entry}";']
    for name, node in flow.nodes.items():
        shape = _SHAPES.get(type(node).__name__.lower(), "box")
        lines.append(f'  "{name}" [label="{_q(_label(name, node))}", shape={shape}];')
    for name, node in flow.nodes.items():
        for label, target, _ in edges(node):
            attr = f' [label="{_q(label)}"]' if label else ""
            lines.append(f'  "{name}" -> "{target}"{attr};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(flow: n.Flow) -> str:
    def ident(name: str) -> str:
        return "n_" + name.replace("-", "_")

    lines = ["flowchart TD", f"  start(( )) --> {ident(flow.entry)}"]
    for name, node in flow.nodes.items():
        text = _q(_label(name, node)).replace("\\n", "<br/>")
        if isinstance(node, n.Menu | n.Branch):
            lines.append(f'  {ident(name)}{{"{text}"}}')
        else:
            lines.append(f'  {ident(name)}["{text}"]')
    for name, node in flow.nodes.items():
        for label, target, _ in edges(node):
            arrow = f' -->|"{_q(label)}"| ' if label else " --> "
            lines.append(f"  {ident(name)}{arrow}{ident(target)}")
    return "\n".join(lines) + "\n"


def to_svg(flow: n.Flow) -> str:
    dot = shutil.which("dot")
    if not dot:
        raise CallcenterError("Graphviz 'dot' is not installed — apt-get install graphviz "
                              "(scripts/install-asterisk does it), or use --format dot")
    res = subprocess.run([dot, "-Tsvg"], input=to_dot(flow), capture_output=True, text=True,
                         timeout=30)
    if res.returncode:
        raise CallcenterError(f"Graphviz failed: {res.stderr.strip()}")
    return res.stdout
