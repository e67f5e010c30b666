"""torchvision on CPU-only torch.

PyPI's only torchvision build matching torch 2.13.0 is a CUDA build. On a CPU-only torch its C++
extension cannot load, and ``import torchvision`` then dies registering fake kernels for
``torchvision::nms``/``qnms`` ("operator torchvision::nms does not exist"), taking ``lpips`` and
``open_clip`` with it. Everything else in torchvision (models, transforms) is pure Python.

``ensure_torchvision()`` defines those two operator schemas (no kernels) when the extension is
missing, so torchvision and the packages built on it import and work: models and transforms are
pure Python. torchvision's detection ops (``torchvision.ops.nms``, ``roi_align``, …) keep raising
torchvision's own "Couldn't load custom C++ ops" error; Loomis does not use them. On a machine whose torchvision loads its
own extension (a matching CUDA build on a GPU cluster) this function does nothing.
"""

from __future__ import annotations

import functools
import logging

log = logging.getLogger(__name__)


@functools.cache
def ensure_torchvision() -> bool:
    """Make ``import torchvision`` work on CPU-only torch. Returns True when the shim was needed."""
    import torch

    try:
        torch.ops.torchvision.nms  # noqa: B018 - probing for the operator
        return False
    except (AttributeError, RuntimeError):
        pass
    try:  # A matching torchvision loads its own ops here.
        import torchvision.extension as ext  # noqa: F401  (importing the subpackage runs __init__)

        return False
    except RuntimeError:
        pass
    except ImportError:
        return False  # torchvision not installed: nothing to shim
    lib = torch.library.Library("torchvision", "DEF")  # noqa: TOR901
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBS.append(lib)  # a Library is unregistered when garbage-collected
    import sys

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]  # drop the half-imported package so the next import starts clean
    import torchvision  # noqa: F401

    log.debug("torchvision C++ extension unavailable; using loomis.compat shim (operator schemas only)")
    return True


_LIBS: list = []
