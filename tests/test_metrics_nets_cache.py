"""``nets.hf_cached``: "not in the cache" is None; a broken or unreadable cache is an InputError
that says so, never a silent "not cached"."""

from __future__ import annotations

import pytest

from loomis.errors import InputError
from loomis.metrics import nets

hub = pytest.importorskip("huggingface_hub")


def test_empty_cache_is_not_cached(tmp_path, monkeypatch):
    real = hub.snapshot_download

    def not_there(*args, **kwargs):
        return real("nobody/nothing", local_files_only=True, cache_dir=str(tmp_path))

    monkeypatch.setattr(hub, "snapshot_download", not_there)  # the real call, on an empty cache
    assert nets.hf_cached("nobody/nothing") is None


@pytest.mark.parametrize(
    "error, message",
    [
        (lambda: hub.errors.IncompleteSnapshotError("3 files missing", snapshot_path="/x"), "incomplete"),
        (lambda: PermissionError(13, "Permission denied"), "cannot be read"),
    ],
)
def test_broken_cache_is_an_input_error(monkeypatch, error, message):
    def boom(*args, **kwargs):
        raise error()

    monkeypatch.setattr(hub, "snapshot_download", boom)
    with pytest.raises(InputError, match=message):
        nets.hf_cached("some/model")
