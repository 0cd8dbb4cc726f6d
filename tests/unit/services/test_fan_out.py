"""Splitting the due index's shards between workers, and starting them."""

import pytest
from videohook.config import ConfigError, FanOut
from videohook.services.fan_out import Dispatcher, shard_groups, shards_of


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 5, 16])
def test_groups_cover_every_shard_once(workers):
    groups = shard_groups(16, workers)
    assert len(groups) == workers
    assert sorted(shard for group in groups for shard in group) == list(range(16))
    assert max(map(len, groups)) - min(map(len, groups)) <= 1


def test_no_more_groups_than_shards():
    assert shard_groups(4, 10) == [[0], [1], [2], [3]]


def test_worker_event_is_checked():
    assert shards_of({"shards": [3, 1, 3]}, 16) == [1, 3]
    for event in (
        None,
        [],
        {},
        {"shards": []},
        {"shards": [16]},
        {"shards": [-1]},
        {"shards": [True]},
        {"shards": "1"},
    ):
        with pytest.raises(ValueError, match="shards"):
            shards_of(event, 16)


class Launcher:
    def __init__(self, failing: set[int]):
        self.failing = failing
        self.launched: list[list[int]] = []

    def launch(self, shards):
        if shards[0] in self.failing:
            raise RuntimeError("TooManyRequestsException")
        self.launched.append(list(shards))


def test_a_group_that_cannot_start_does_not_stop_the_others():
    launcher = Launcher(failing={1})
    report = Dispatcher(launcher, due_shards=8, workers=4).dispatch()
    assert (report.launched, report.failed) == (3, 1)
    assert sorted(launcher.launched) == [[0, 4], [2, 6], [3, 7]]
    assert report.groups == [[0, 4], [1, 5], [2, 6], [3, 7]]


def test_fan_out_settings():
    assert FanOut.from_env({}) == FanOut(1, "")
    assert FanOut.from_env({"POLLER_WORKERS": "4", "POLLER_WORKER_FUNCTION": "w"}) == FanOut(4, "w")
    with pytest.raises(ConfigError, match="POLLER_WORKER_FUNCTION"):
        FanOut.from_env({"POLLER_WORKERS": "4"})
    with pytest.raises(ConfigError, match="POLLER_WORKERS"):
        FanOut.from_env({"POLLER_WORKERS": "0", "POLLER_WORKER_FUNCTION": "w"})
