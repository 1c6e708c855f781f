"""The kernel's landing events (lakehouse/landing_events.py) on a real folder, and the landing listing's
settled files (dbt_plugins/landing_listing.py): a file closed after writing, or moved in, wakes a wait
at once and is listed without the settle wait while it stays as it was; a file still being written
wakes nothing; a file changed since it was seen whole waits the interval like any other; a landing
folder moved back has its registry folder watched with it, and one moved away the folder made in its place."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from dbt_plugins.landing_listing import list_landing_folder
from lakehouse import landing_events
from lakehouse.landing_events import LandingEvents
from lakehouse.watch_signatures import landing_signature

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")

QUIET_S = 0.3  # how long a wait that must not wake is given


@pytest.fixture
def landing(tmp_path: Path):
    folder = tmp_path / "landing"
    folder.mkdir()
    events = LandingEvents(folder)
    assert events.available, events.reason
    yield folder, events
    events.close()


def test_a_file_closed_after_writing_wakes_the_wait_and_is_settled_as_it_was(landing) -> None:
    folder, events = landing
    assert not events.wait(QUIET_S)
    with open(folder / "train_FD001.txt", "w") as writer:
        writer.write("1 1 0.1\n")
        writer.flush()
        assert not events.wait(QUIET_S)  # created and written, not closed: nothing to read yet
        assert events.settled(landing_signature(folder)) == {}
    started = time.monotonic()
    assert events.wait(5.0)
    assert time.monotonic() - started < 1.0
    status = (folder / "train_FD001.txt").stat()
    assert events.settled(landing_signature(folder)) == {"train_FD001.txt": [status.st_size, status.st_mtime_ns]}
    # touched since (a new modification time): no longer as it was seen whole
    os.utime(folder / "train_FD001.txt", ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000))
    assert events.wait(5.0)
    assert events.settled(landing_signature(folder)) == {}


def test_a_file_moved_in_wakes_and_is_settled_a_removal_wakes_and_forgets_it(landing, tmp_path: Path) -> None:
    folder, events = landing
    staged = tmp_path / "test_FD002.txt"
    staged.write_text("1 1 0.1\n")
    assert not events.wait(QUIET_S)  # written outside the landing folder
    shutil.move(staged, folder / staged.name)
    time.sleep(0.2)  # queued, not waited for (a tick that starts at once): settled() reads the queue
    assert set(events.settled(landing_signature(folder))) == {"test_FD002.txt"}
    assert events.wait(0)  # ... and the next wait returns at once (the move may have come after the listing)
    assert not events.wait(QUIET_S)
    (folder / "test_FD002.txt").unlink()
    assert events.wait(5.0)
    assert events.settled({"test_FD002.txt": [8, 0]}) == {}


def test_a_subfolder_made_later_is_watched_and_a_directory_or_link_wakes_at_once(landing) -> None:
    folder, events = landing
    (folder / "registry").mkdir()
    assert events.wait(5.0)
    (folder / "registry" / "equipment_registry.csv").write_text("unit_id\n")
    assert events.wait(5.0)
    assert events.settled(landing_signature(folder)) == {}  # only top-level files are bronze's
    os.symlink(folder / "missing.txt", folder / "dangling.txt")
    assert events.wait(5.0)


def test_a_landing_folder_made_after_the_start_is_watched_from_then_on(tmp_path: Path) -> None:
    folder = tmp_path / "landing"
    events = LandingEvents(folder)
    try:
        assert events.available
        started = time.monotonic()
        assert not events.wait(0.2)  # nothing to watch yet: the wait sleeps its time
        assert time.monotonic() - started >= 0.2
        folder.mkdir()
        assert events.wait(1.0)  # watched now
        (folder / "train_FD004.txt").write_text("1 1 0.1\n")
        assert events.wait(5.0) and set(events.settled(landing_signature(folder))) == {"train_FD004.txt"}
    finally:
        events.close()


def test_a_landing_folder_moved_back_with_its_registry_folder_has_both_watched(tmp_path: Path) -> None:
    # the landing folder came back watched, but not the registry folder it came back with: an extract
    # written there woke nothing, so it waited for the next look every EVERY s
    folder = tmp_path / "landing"
    (folder / "registry").mkdir(parents=True)
    events = LandingEvents(folder)
    try:
        shutil.rmtree(folder)  # gone ...
        assert events.wait(5.0)
        (tmp_path / "aside" / "registry").mkdir(parents=True)
        (tmp_path / "aside").rename(folder)  # ... and back, with its registry folder
        assert events.wait(1.0)  # watched again
        assert not events.wait(QUIET_S)
        (folder / "registry" / "equipment_registry.csv").write_text("unit_id\n")
        assert events.wait(5.0)
    finally:
        events.close()


def test_a_landing_folder_moved_away_and_made_anew_is_watched(tmp_path: Path) -> None:
    # the watch followed the folder moved away (landing.old): the new landing folder was never watched, so
    # nothing landing there woke the watcher, and only its looks every EVERY s saw the files
    folder = tmp_path / "landing"
    folder.mkdir()
    events = LandingEvents(folder)
    try:
        folder.rename(tmp_path / "landing.old")
        assert events.wait(5.0)
        folder.mkdir()
        assert events.wait(1.0)  # watched: the new folder
        (tmp_path / "landing.old" / "test_FD001.txt").write_text("1 1 0.1\n")
        assert not events.wait(QUIET_S)  # not the old one
        (folder / "train_FD001.txt").write_text("1 1 0.1\n")
        assert events.wait(5.0) and set(events.settled(landing_signature(folder))) == {"train_FD001.txt"}
    finally:
        events.close()


def test_without_inotify_the_wait_sleeps_its_time(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(landing_events, "_libc", lambda: None)  # a system without inotify
    events = LandingEvents(tmp_path)
    assert not events.available and "no inotify" in events.reason
    started = time.monotonic()
    assert not events.wait(0.2)
    assert time.monotonic() - started >= 0.2
    assert events.settled({}) == {}


def test_the_listing_does_not_wait_for_a_file_known_whole_and_still_as_it_was(tmp_path: Path) -> None:
    young = tmp_path / "test_FD003.txt"
    young.write_text("1 1 0.1\n")
    status = young.stat()
    settle = 1.5

    started = time.monotonic()
    [entry] = list_landing_folder(str(tmp_path), settle, json.dumps({young.name: [status.st_size, status.st_mtime_ns]}))
    assert entry["entry_kind"] == "file" and time.monotonic() - started < 1.0

    # known whole, but not as it is now (a later write): the settle interval is waited out
    for settled in (json.dumps({young.name: [status.st_size + 1, status.st_mtime_ns]}), "{}"):
        young.touch()
        started = time.monotonic()
        [entry] = list_landing_folder(str(tmp_path), settle, settled)
        assert entry["entry_kind"] == "file" and time.monotonic() - started >= 1.0


def test_the_signature_takes_a_loop_of_links_as_a_broken_link(tmp_path: Path) -> None:
    # os.stat raises ELOOP, not FileNotFoundError: the watcher's tick died with a traceback
    (tmp_path / "train_FD001.txt").write_text("1 1\n")
    (tmp_path / "train_FD002.txt").symlink_to(tmp_path / "train_FD002.txt")
    signature = landing_signature(tmp_path)
    assert signature["train_FD002.txt"] == [-2, os.lstat(tmp_path / "train_FD002.txt").st_mtime_ns]
    assert signature["train_FD001.txt"][0] == 4
