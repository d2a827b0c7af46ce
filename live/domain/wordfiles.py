"""Word-list files of a show file: named inside the show file's folder, read once, bounded.

A show file may name word lists (``[comments] wordlists``); a show set up in the browser may
not (its words live in Redis, edited through the word-list API: an admin of a show is not the
operator of the server, and must not make it open files). So a name is only ever read when the
operator's own show file is loaded (``live serve``, ``live show check``), never while a request
waits, and only if:

- it is a plain relative name (letters, digits, ``_ . -``, folders split by ``/``; no absolute
  path, no ``..``, no hidden file);
- it resolves (symbolic links followed) inside the show file's folder;
- it is a regular file (a FIFO, a device such as ``/dev/zero`` or a folder is refused: opened
  without blocking, then checked on the open descriptor) of at most :data:`MAX_BYTES`;
- it is UTF-8 and every line is a word the filter can use.

A refusal names the list and says why in words of our own: no operating-system message is
quoted (an error of a show file may travel further than the operator's terminal).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from live.domain.wordfilter import read_list

MAX_BYTES = 1_000_000
"""The largest word-list file read (a 50,000-word list is about 400 KB)."""

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}){0,7}$")
"""A word list's name as a show file gives it: relative, no hidden part, at most 8 folders."""


class WordFileError(ValueError):
    """A word list that cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class WordFile:
    """One word list as read: its words and its allowed phrases."""

    path: str
    words: tuple[str, ...]
    allowed: tuple[str, ...]


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a word list, or None. Pure."""
    if not NAME.fullmatch(name) or any(part in (".", "..") for part in name.split("/")):
        return (
            "a word list is named relative to the show file, with letters, digits, _ . - and "
            "/ only (no absolute path, no .., no hidden file)"
        )
    return None


def _unreadable(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "not readable"
    return "cannot be read"


def read_wordfile(folder: Path, name: str) -> WordFile:
    """The word list ``name`` inside ``folder`` (the show file's), checked as the module says;
    :class:`WordFileError` otherwise. Blocks for a bounded read: call it off the event loop."""
    problem = name_problem(name)
    if problem is not None:
        raise WordFileError(f"word list {name!r}: {problem}")
    root = folder.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise WordFileError(f"word list {name!r}: outside the show file's folder")
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked on the
        # descriptor itself, so a file swapped in after the check above is checked too.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise WordFileError(f"word list {name!r}: {_unreadable(exc)}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
        os.close(fd)
        why = "not a regular file" if not stat.S_ISREG(info.st_mode) else "larger than"
        if why == "larger than":
            why = f"larger than {MAX_BYTES:,} bytes"
        raise WordFileError(f"word list {name!r}: {why}")
    with os.fdopen(fd, "rb") as fh:
        try:
            data = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            raise WordFileError(f"word list {name!r}: {_unreadable(exc)}") from None
    if len(data) > MAX_BYTES:  # grew after the check
        raise WordFileError(f"word list {name!r}: larger than {MAX_BYTES:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise WordFileError(f"word list {name!r}: not UTF-8 text") from None
    words, allowed, problems = read_list(text)
    if problems:
        raise WordFileError(f"word list {name!r}: {problems[0]}")
    return WordFile(str(path), tuple(words), tuple(allowed))
