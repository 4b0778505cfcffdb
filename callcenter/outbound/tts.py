"""Text-to-speech at call time: a filled-in template spoken by espeak-ng into an 8 kHz mono
16-bit WAV that Asterisk plays without transcoding, cached by what was said.

The text holds caller data (a child's name and lesson), so the cache is private: the folder
is 0700 and every file 0600 when Asterisk runs as the daemon's user (tests, a single-user
install). In production Asterisk runs as `asterisk` and the daemon as `callcenter` (README,
"Users and files"), so the daemon passes `group` (the asterisk group's id): the folder is then
0750 and the files 0640 of that group, readable by Asterisk and by nobody else. A file is
named by the SHA-256 of voice and text, never by the text itself."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path

from callcenter.clock import SYSTEM, Clock
from callcenter.errors import CallcenterError
from callcenter.ivr.prompts import tool, voice

__all__ = ["MAX_TEXT", "TtsError", "cache_key", "prune", "speak", "speak_sync"]

MAX_TEXT = 1000  # characters spoken in one call: a template of 200 plus its values
# part of the key, so a change of format or rate re-speaks what was cached
_FORMAT = "wav8k16mono:s150"
_TIMEOUT = 60
_TMP = ".tmp-"

# one lock per key while it is being made: a second caller for the same text waits and
# then finds the file (across processes the atomic rename keeps a file whole)
_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()


class TtsError(CallcenterError):
    """espeak-ng or sox could not make the audio of a spoken text."""


def cache_key(text: str, language: str) -> str:
    """The cache name of `text` spoken in `language`: sha256 of the voice and the text."""
    return hashlib.sha256(f"{_FORMAT}\0{voice(language)}\0{text}".encode()).hexdigest()


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = threading.Lock()
            _locks[key] = lock
        return lock


def _private_dir(cache_dir: Path, group: int | None) -> None:
    mode = 0o700 if group is None else 0o750
    try:
        cache_dir.mkdir(mode=mode, parents=True, exist_ok=True)
        st = cache_dir.stat()
        if group is not None and st.st_gid != group:
            os.chown(cache_dir, -1, group)
        if st.st_mode & 0o777 != mode:
            os.chmod(cache_dir, mode)  # made by hand, or before with a wider umask
    except OSError as exc:
        raise TtsError(f"the speech cache {cache_dir} cannot be used ({exc.strerror}) — "
                       "it must be a folder the daemon's user owns") from None


def _run(cmd: list[str], what: str, stdin: str | None = None) -> None:
    try:
        res = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                             timeout=_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise TtsError(f"{what} took longer than {_TIMEOUT} s — is the machine "
                       "overloaded?") from None
    if res.returncode:
        raise TtsError(f"{what} failed: {res.stderr.strip() or f'exit status {res.returncode}'}")


def _make(text: str, language: str, target: Path, group: int | None) -> None:
    """Speak `text` into `target` (0600, or 0640 of `group`), whole or not at all."""
    espeak = tool("espeak-ng", "espeak-ng")
    sox = tool("sox", "sox")
    work = Path(tempfile.mkdtemp(prefix=_TMP, dir=target.parent))  # 0700, same file system
    try:
        raw, out = work / "raw.wav", work / "out.wav"
        # the text goes in on stdin: a text starting with '-' is never read as an option
        _run([espeak, "--stdin", "-v", voice(language), "-s", "150", "-w", str(raw)],
             "espeak-ng", stdin=text)
        _run([sox, str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
              str(out)], "sox")
        if group is not None:
            os.chown(out, -1, group)
        os.chmod(out, 0o600 if group is None else 0o640)
        os.replace(out, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def speak_sync(text: str, language: str, cache_dir: Path, *, clock: Clock = SYSTEM,
               group: int | None = None) -> Path:
    """The cached audio of `text` in `language`, made if missing; returns the path without
    its .wav extension (what Asterisk's STREAM FILE takes). A use marks the file as fresh
    for prune(). `group`: the group Asterisk reads the cache as (see above)."""
    text = text.strip()
    if not text:
        raise TtsError("nothing to speak: the text is empty")
    if len(text) > MAX_TEXT:
        raise TtsError(f"the text to speak has {len(text)} characters — at most {MAX_TEXT}")
    cache_dir = Path(cache_dir)
    _private_dir(cache_dir, group)
    key = cache_key(text, language)
    target = cache_dir / f"{key}.wav"
    stamp = clock.now().timestamp()
    with _lock(key):
        try:
            os.utime(target, (stamp, stamp))
        except FileNotFoundError:  # not made yet, or pruned a moment ago
            _make(text, language, target, group)
            os.utime(target, (stamp, stamp))
    return cache_dir / key


async def speak(text: str, language: str, cache_dir: Path, *, clock: Clock = SYSTEM,
                group: int | None = None) -> Path:
    """speak_sync in a worker thread, so the event loop keeps serving other calls."""
    return await asyncio.to_thread(speak_sync, text, language, cache_dir, clock=clock,
                                   group=group)


def prune(cache_dir: Path, max_age_seconds: float, *, clock: Clock = SYSTEM) -> int:
    """Delete cached audio not used for `max_age_seconds` by `clock`, and work folders an
    interrupted speak left behind; return how many files were deleted."""
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        return 0
    cutoff = clock.now().timestamp() - max_age_seconds
    removed = 0
    for entry in cache_dir.iterdir():
        try:
            st = entry.lstat()
            if entry.name.startswith(_TMP) and entry.is_dir():
                # a speak in progress has a folder the file system stamped moments ago by
                # the real time; only one a crash left behind gets old by it
                if st.st_mtime < min(cutoff, time.time() - _TIMEOUT * 3):
                    shutil.rmtree(entry, ignore_errors=True)
                continue
            if entry.suffix == ".wav" and entry.is_file() and st.st_mtime < cutoff:
                entry.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # another pruner or speak got there first
    return removed
