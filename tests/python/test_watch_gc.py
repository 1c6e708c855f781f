"""The watcher's warm-up keeps its long-lived objects out of the garbage collector's sight
(`freeze_long_lived`), and a re-parse lets the manifest it replaces be collected and freezes the new one.

No dbt here: `Dbt._invoke` stands in for `dbt parse` with a manifest-like object graph held in a
reference cycle (which only the cycle collector frees), so the test runs in milliseconds.
"""

from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

import pytest

from lakehouse.watch_steps import Dbt, freeze_long_lived


class Manifest:
    """Nodes that point back at their manifest: garbage only the cycle collector can free."""

    def __init__(self) -> None:
        self.nodes = [SimpleNamespace(manifest=self, sql="select 1") for _ in range(1000)]


@pytest.fixture
def dbt(monkeypatch):
    runner = Dbt(target="ci")
    monkeypatch.setattr(runner, "_invoke", lambda *_args, **_kw: (SimpleNamespace(result=Manifest()), [], 0.0))
    yield runner
    gc.unfreeze()


def test_the_warm_up_freezes_what_is_alive_and_a_reparse_lets_the_old_manifest_be_collected(dbt) -> None:
    gc.unfreeze()
    dbt.ensure_parsed("project signature 1")
    assert gc.get_freeze_count() == 0  # a first parse freezes nothing (`--once` has no warm-up)
    freeze_long_lived()  # what Watcher.warm_up does last
    first = weakref.ref(dbt.manifest)
    assert gc.get_freeze_count() > len(dbt.manifest.nodes)  # the manifest and every node, frozen

    dbt.ensure_parsed("project signature 1")  # same project: no parse, the same manifest
    assert first() is dbt.manifest

    dbt.ensure_parsed("project signature 2")  # a project file changed: parsed again
    gc.collect()
    assert first() is None  # not left frozen: collected with its cycles
    assert gc.get_freeze_count() > len(dbt.manifest.nodes)  # the new one frozen in its place
