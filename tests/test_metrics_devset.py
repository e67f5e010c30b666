"""The development set's split is deterministic and as documented; the loader reads the real set
(skipped with a reason when ../shared/realdata is absent)."""

from __future__ import annotations

import pytest

from loomis.metrics.devset import DIGITAL, load_acrylic, split


def test_split_holds_out_every_third_sorted_name():
    names = ["wh9", "wh1", "wh5", "wh3", "wh7", "wh2", "wh4"]
    groups = split(names)
    # sorted: wh1 wh2 wh3 wh4 wh5 wh7 wh9 -> positions 2 and 5 held out
    assert sorted(n for n, g in groups.items() if g == "held-out") == ["wh3", "wh7"]
    assert split(list(reversed(names))) == groups  # order of discovery does not matter


@pytest.mark.realdata
def test_real_set_groups_and_acrylic_times(realdata):
    if not (realdata / DIGITAL).is_dir():
        pytest.skip(f"{DIGITAL} absent from the real test material")
    from loomis.metrics.devset import digital_names

    groups = split(digital_names(realdata))
    assert len(groups) == 32
    assert sum(g == "held-out" for g in groups.values()) == 10
    acrylic = load_acrylic(realdata, side=32)
    assert [p.name for p in acrylic] == ["acrylic-landscape", "acrylic-lake"]
    assert acrylic[0].times is not None and acrylic[0].times == sorted(acrylic[0].times)
    assert max(acrylic[0].frames[0].shape[:2]) == 32
