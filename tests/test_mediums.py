import pytest

from loomis.errors import InputError
from loomis.mediums import build_prompt, get_medium, medium_names, registry


def test_registry_has_the_contract_mediums():
    names = medium_names()
    for required in ("acrylic", "oil", "pencil", "loomis", "pencil-mono", "children", "coloring-book"):
        assert required in names
    assert {m.kind for m in registry().values()} == {"process", "transfer"}


def test_prompt_template():
    assert (
        build_prompt("oil", "A lake at dusk.")
        == "An oil painting. Step by step painting process. A lake at dusk."
    )
    assert build_prompt(get_medium("pencil"), None).endswith("Step by step painting process. A picture.")


def test_unknown_medium_lists_valid_ones():
    with pytest.raises(InputError) as exc:
        get_medium("crayon-on-wall")
    assert "acrylic" in str(exc.value) and "coloring-book" in str(exc.value)


def test_mediums_are_frozen_data():
    m = get_medium("oil")
    with pytest.raises(AttributeError):
        m.words = "x"
    with pytest.raises(TypeError):
        m.sampler["steps"] = 1
