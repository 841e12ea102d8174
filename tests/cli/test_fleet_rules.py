"""``edgeface fleet rules``: which doors let a person in, and when, written as a new version of them."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import numpy as np
import pytest

from edgeface.config import Window
from edgeface.storage.people import Store
from tests.support.cli import edgeface
from tests.support.configs import write_config


def test_rules_set_doors_and_windows_and_each_change_is_a_new_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    store_path = tmp_path / "state" / "people.db"
    with Store(store_path) as store:
        store.add_template("ann", np.ones(8, np.float32), ("m", "0" * 64))
        enrolled = store.versions()["ann"]
    assert edgeface(config, "fleet", "rules", "ann", "--doors", "front", "back", "--window", "mon-wed 08:00-18:00",
                    "--window", "sat,sun 10:00-12:30") == 0  # fmt: skip
    assert "ann: front, back, mon,tue,wed 08:00:00-18:00:00; sat,sun 10:00:00-12:30:00" in capsys.readouterr().out
    with Store(store_path) as store:
        [ann] = store.records()
    assert ann.version > enrolled and ann.doors == ("front", "back")
    assert ann.schedule == (
        Window(days=["mon", "tue", "wed"], start=time(8), end=time(18)),
        Window(days=["sat", "sun"], start=time(10), end=time(12, 30)),
    )
    assert edgeface(config, "fleet", "rules", "ann", "--always") == 0  # the door list stays as it was
    with Store(store_path) as store:
        [ann] = store.records()
    assert (ann.doors, ann.schedule) == (("front", "back"), None)
    assert edgeface(config, "fleet", "rules", "ann", "--any-door") == 0
    with Store(store_path) as store:
        assert store.records()[0].doors is None


def test_rules_refuse_an_unknown_person_and_a_window_they_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    assert edgeface(config, "fleet", "rules", "nobody", "--doors", "front") == 1
    assert "no enrolled person called 'nobody'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        edgeface(config, "fleet", "rules", "nobody", "--window", "someday 8-18")
    assert "expected DAYS HH:MM-HH:MM" in capsys.readouterr().err
