"""What lands in the landing folder, as the kernel reports it (Linux inotify): the watcher wakes as
soon as a file is complete, and knows which files need no settle interval.

    events = LandingEvents(landing)  # the landing folder and its registry/ and erasures/ subfolders
    events.wait(seconds)             # True as soon as something landed or went; False after `seconds`
    events.settled(signature)        # the top-level files seen whole, still as they were then
    events.close()

What wakes a wait: a file closed after writing (`IN_CLOSE_WRITE`), an entry moved in or out
(`IN_MOVED_TO` / `IN_MOVED_FROM`: the atomic rename most writers land with), an entry removed, a
touch (`IN_ATTRIB`), and a new entry that is not a regular file (a directory or a symbolic link,
which no writer closes). A regular file being created or written does not wake it: its close will.
A subfolder created later (registry/, erasures/) is watched from then on, and so is a landing folder
that does not exist yet when the watcher starts, or one removed (or moved away) and made again (moved
back with its subfolders: they are watched with it).

A regular file at the top level seen closed after writing, or moved in, is recorded with its size and
modification time (ns) at that moment: `settled` gives those still unchanged in `signature` (the
watcher's listing), by entry name, for the build's var `landing_settled_files` (bronze reads them
without waiting the settle interval, dbt_plugins/landing_listing.py). A file written again since
is no longer as recorded and waits the interval, as every file does without events.

Where inotify is not there (not Linux, or the per-user watch limit reached), `available` is False:
`wait` sleeps its `seconds`, `settled` is empty, and the watcher works as without events: a look
every EVERY seconds, every young file waits the settle interval. On a file system that does not
report other hosts' writes (NFS), their events never come and the same looks do the work.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import select
import stat
import struct
import time
from pathlib import Path

# <sys/inotify.h>
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
WATCHED = (
    IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
)
EVENT_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (then `len` bytes of name)
READ_BYTES = 64 * 1024
# The landing folder's subfolders the watcher signs (lakehouse.watch.LANDING_SOURCES)
SUBFOLDERS = ("registry", "erasures")


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        libc.inotify_init1, libc.inotify_add_watch, libc.inotify_rm_watch  # noqa: B018 (present: Linux)
    except (OSError, AttributeError, TypeError):
        return None
    return libc


class LandingEvents:
    """The kernel's events on `landing` (see the module docstring); a no-op where inotify is missing."""

    def __init__(self, landing: Path) -> None:
        self.landing = Path(landing)
        self.fd: int | None = None
        self.folders: dict[int, Path] = {}  # watch descriptor -> folder
        self.whole: dict[str, tuple[int, int]] = {}  # top-level entry name -> (size, mtime_ns) when seen whole
        self.unseen = False  # settled() read an event that wakes: the next wait returns at once
        self.reason = ""
        self._libc = _libc()
        if self._libc is None:
            self.reason = "no inotify on this system"
            return
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            self.reason = f"inotify_init1: {os.strerror(ctypes.get_errno())}"
            return
        self.fd = fd
        # a landing folder not there yet is watched once it is (`wait`); any other failure: no events
        if not self._watch_landing() and self.landing.exists():
            self.close()
            return

    @property
    def available(self) -> bool:
        return self.fd is not None

    def _watch_landing(self) -> bool:
        """Watch the landing folder and those of its SUBFOLDERS it holds now (one made later is watched as it
        is made: `_handle`); False when the landing folder can't be watched."""
        if not self._watch(self.landing):
            return False
        for name in SUBFOLDERS:
            if (self.landing / name).is_dir():
                self._watch(self.landing / name)
        return True

    def _watch(self, folder: Path) -> bool:
        assert self.fd is not None and self._libc is not None
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(folder), WATCHED)
        if wd < 0:
            code = ctypes.get_errno()
            self.reason = f"inotify_add_watch({folder}): {os.strerror(code)}" + (
                " (raise fs.inotify.max_user_watches)" if code == errno.ENOSPC else ""
            )
            return False
        self.folders[wd] = folder
        return True

    def wait(self, seconds: float) -> bool:
        """Block up to `seconds`; True as soon as an event that can change what the watcher lists arrived
        (those already queued count), False when none did."""
        if self.fd is None:
            time.sleep(max(seconds, 0.0))
            return False
        deadline = time.monotonic() + max(seconds, 0.0)
        if self.unseen:
            self.unseen = False
            return True
        if self.landing not in self.folders.values() and self.landing.is_dir():  # removed, then made again
            self.whole.clear()
            if self._watch_landing():  # its registry/ and erasures/ too, when it came back with them
                return True
        while True:
            if self._drain():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            readable, _, _ = select.select([self.fd], [], [], remaining)
            if not readable:
                return False

    def _drain(self) -> bool:
        """Read every queued event; True when one of them wakes the watcher."""
        assert self.fd is not None
        woken = False
        while True:
            try:
                data = os.read(self.fd, READ_BYTES)
            except BlockingIOError:
                return woken
            offset = 0
            while offset < len(data):
                wd, mask, _, length = EVENT_HEADER.unpack_from(data, offset)
                raw = data[offset + EVENT_HEADER.size : offset + EVENT_HEADER.size + length]
                offset += EVENT_HEADER.size + length
                woken |= self._handle(wd, mask, os.fsdecode(raw.rstrip(b"\0")))

    def _handle(self, wd: int, mask: int, name: str) -> bool:
        if mask & IN_Q_OVERFLOW:  # the kernel dropped events: what was recorded may be out of date
            self.whole.clear()
            return True
        folder = self.folders.get(wd)
        if mask & IN_IGNORED:  # the watch is gone (its folder removed or moved)
            self.folders.pop(wd, None)
            return True
        if folder is None:
            return False
        if mask & IN_MOVE_SELF:
            # the watch would follow the folder where it went: dropped, so that a folder made in its place is
            # watched instead (`wait` for the landing folder, the creation event for a subfolder)
            assert self.fd is not None and self._libc is not None
            self._libc.inotify_rm_watch(self.fd, wd)
            self.folders.pop(wd, None)
            return True
        if mask & IN_DELETE_SELF:
            return True
        top_level = folder == self.landing
        if top_level and (mask & IN_ISDIR) and name in SUBFOLDERS and mask & (IN_CREATE | IN_MOVED_TO):
            self._watch(self.landing / name)
        if top_level and name:
            self.whole.pop(name, None)
            if mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                with contextlib.suppress(OSError):  # gone again already: nothing to record
                    status = os.lstat(folder / name)
                    if stat.S_ISREG(status.st_mode):
                        self.whole[name] = (status.st_size, status.st_mtime_ns)
        if mask & IN_CREATE and not mask & IN_ISDIR:
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(folder / name).st_mode):
                    return False  # a file being written: its close wakes the watcher
        return True

    def settled(self, signature: dict[str, list[int]]) -> dict[str, list[int]]:
        """The top-level files seen whole whose (size, mtime_ns) in `signature` (relative path ->
        [size, mtime_ns], the watcher's listing) is still the one recorded: {name: [size, mtime_ns]}.
        Reads the events queued first: a tick that starts without waiting (the last one took longer than
        EVERY) knows of the files that landed during it; the next wait returns at once if one of those
        events wakes (its file may have landed after the watcher's listing)."""
        if self.fd is not None:
            self.unseen |= self._drain()
        return {
            name: [size, mtime_ns]
            for name, (size, mtime_ns) in self.whole.items()
            if signature.get(name) == [size, mtime_ns]
        }

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.folders.clear()
