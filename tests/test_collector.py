"""The garbage collector's pace during a backfill (``stripe_integrations.backfill.collector``)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from stripe_integrations.backfill import SyncSettings, get_resource, run_sync
from stripe_integrations.backfill.collector import DEFAULT_THRESHOLD, configured_threshold, paced
from stripe_integrations.backfill.engine import Engine, PageResult
from stripe_integrations.backfill.registry import Resource
from stripe_integrations.backfill.slices import Slice
from stripe_integrations.testing import FakeStripe


@pytest.fixture(autouse=True)
def default_threshold() -> Iterator[tuple[int, int, int]]:
    """Every test starts from Python's usual thresholds and leaves them as they were."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*before)


def test_the_threshold_is_raised_within_and_restored_after() -> None:
    with paced(30_000):
        assert gc.get_threshold() == (30_000, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_after_an_exception() -> None:
    with pytest.raises(RuntimeError), paced(30_000):
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10)


def test_zero_a_lower_value_or_a_disabled_collector_change_nothing() -> None:
    with paced(0):
        assert gc.get_threshold() == (700, 10, 10)
    with paced(100):
        assert gc.get_threshold() == (700, 10, 10)
    gc.disable()
    try:
        with paced(30_000):
            assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.enable()


def test_overlapping_runs_restore_once_the_last_ends() -> None:
    first_inside = threading.Event()
    release = threading.Event()
    seen: list[tuple[int, int, int]] = []

    def other_run() -> None:
        with paced(30_000):
            first_inside.set()
            release.wait(5)
        seen.append(gc.get_threshold())

    thread = threading.Thread(target=other_run)
    thread.start()
    assert first_inside.wait(5)
    with paced(30_000):
        release.set()
        thread.join(5)
        assert seen == [(30_000, 10, 10)]  # the other run ended; this one still runs
    assert gc.get_threshold() == (700, 10, 10)


def test_a_threshold_changed_meanwhile_is_left_alone() -> None:
    with paced(30_000):
        gc.set_threshold(5_000, 10, 10)  # the application changed it during the run
    assert gc.get_threshold() == (5_000, 10, 10)


def test_the_setting(settings: Any) -> None:
    settings.STRIPE_CONFIG = {"API_KEY": "sk_test_x"}
    assert configured_threshold() == DEFAULT_THRESHOLD == 50_000
    settings.STRIPE_CONFIG = {"API_KEY": "sk_test_x", "SYNC_GC_THRESHOLD": 0}
    assert configured_threshold() == 0
    with paced():
        assert gc.get_threshold() == (700, 10, 10)
    for bad in (-1, "many", 1.5, True):
        settings.STRIPE_CONFIG = {"API_KEY": "sk_test_x", "SYNC_GC_THRESHOLD": bad}
        with pytest.raises(ValueError, match="SYNC_GC_THRESHOLD"):
            configured_threshold()


class ThresholdSink:
    """Records the collector's threshold while the engine writes."""

    def __init__(self) -> None:
        self.thresholds: set[tuple[int, int, int]] = set()

    def write(self, resource: Resource, results: list[PageResult]) -> None:
        self.thresholds.add(gc.get_threshold())


@pytest.mark.django_db
def test_the_engine_runs_paced(fake_stripe: FakeStripe) -> None:
    for i in range(150):
        fake_stripe.add("customer", email=f"c{i}@example.com", created=1_700_000_000 + i)
    sink = ThresholdSink()
    fetcher = SyncSettings(rate=10_000.0).fetcher()
    engine = Engine(get_resource("customers"), fetcher, sink, workers=2)
    assert engine.run([Slice("customers", False, 0, 1_800_000_000)]).objects == 150
    assert sink.thresholds == {(DEFAULT_THRESHOLD, 10, 10)}
    assert gc.get_threshold() == (700, 10, 10)

    sink = ThresholdSink()
    engine = Engine(get_resource("customers"), fetcher, sink, workers=2, gc_threshold=0)
    engine.run([Slice("customers", False, 0, 1_800_000_000)])
    assert sink.thresholds == {(700, 10, 10)}


@pytest.mark.django_db
def test_run_sync_passes_its_setting(fake_stripe: FakeStripe, monkeypatch: Any) -> None:
    fake_stripe.add("customer", email="one@example.com")
    seen: list[tuple[int, int, int]] = []
    original = Engine._run

    def spy(self: Engine, slices: list[Slice]) -> Any:
        seen.append(gc.get_threshold())
        return original(self, slices)

    monkeypatch.setattr(Engine, "_run", spy)
    run_sync(["customers"], SyncSettings(rate=10_000.0, gc_threshold=20_000))
    assert seen == [(20_000, 10, 10)]
