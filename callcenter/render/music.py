"""A default hold tune, synthesised so a fresh site has music on hold before anyone adds any."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

__all__ = ["ensure_music"]

RATE = 8000
# a calm pentatonic phrase (Hz, seconds)
_PHRASE = ((523.25, 0.5), (587.33, 0.5), (659.25, 0.5), (783.99, 0.5), (880.0, 1.0),
           (783.99, 0.5), (659.25, 0.5), (587.33, 1.0), (0.0, 0.5))


def _tune() -> bytes:
    frames = bytearray()
    for freq, secs in _PHRASE * 4:
        n = int(RATE * secs)
        for i in range(n):
            env = min(1.0, i / 400, (n - i) / 400)  # no clicks between notes
            v = 0.0 if freq == 0 else math.sin(2 * math.pi * freq * i / RATE) * 6000 * env
            frames += struct.pack("<h", int(v))
    return bytes(frames)


def ensure_music(sounds_dir: Path, classes: list[str]) -> None:
    """Give every music class folder at least one file (Asterisk refuses an empty class)."""
    for cls in classes:
        d = sounds_dir / "moh" / cls
        d.mkdir(parents=True, exist_ok=True)
        if any(d.iterdir()):
            continue
        tmp = d / ".callcenter-tune.wav.tmp"
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(_tune())
        tmp.replace(d / "callcenter-tune.wav")
