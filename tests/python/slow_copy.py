"""A file written while builds run: its content a few bytes at a time, from a thread, so a listing taken
meanwhile sees it change (a file still being copied into the landing folder, or rewritten in place)."""

from __future__ import annotations

import threading
from pathlib import Path

CHUNK_BYTES, CHUNK_SECONDS = 40, 0.2


class SlowCopy:
    """Writes `content` into `path` (truncated first) CHUNK_BYTES every CHUNK_SECONDS, often ending mid-line,
    once `thread` is started, until `finish` stops it and writes the rest."""

    def __init__(self, path: Path, content: bytes) -> None:
        self.path, self.content, self.written, self.stop = path, content, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with self.path.open("wb") as out:
            while not self.stop.is_set() and self.written < len(self.content):
                out.write(self.content[self.written : self.written + CHUNK_BYTES])
                out.flush()
                self.written += CHUNK_BYTES
                self.stop.wait(CHUNK_SECONDS)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join()
        with self.path.open("ab") as out:
            out.write(self.content[self.written :])
