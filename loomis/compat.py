"""torchvision on CPU-only torch, fixed for the whole environment and paid for only when used.

PyPI's only torchvision build matching torch 2.13.0 is a CUDA build. On a CPU-only torch its C++
extension cannot load, and ``import torchvision`` then dies registering fake kernels for
``torchvision::nms``/``qnms`` ("operator torchvision::nms does not exist"), taking ``lpips``,
``open_clip``, ``peft`` and diffusers' Wan pipeline (through transformers) with it. Everything
else in torchvision (models, transforms) is pure Python.

The fix: just before torchvision's first import, try to load its C++ extension; where that fails,
define the two operator schemas (no kernels), so torchvision and the packages built on it import
and work. torchvision's detection ops (``torchvision.ops.nms``, ``roi_align``, …) keep raising
torchvision's own "Couldn't load custom C++ ops" error; Loomis does not use them. Where the
extension loads (a matching CUDA build on a GPU cluster) nothing is defined.

When it runs: an import hook (``install_import_hook``) — a meta-path finder that only waits for
the name ``torchvision`` — is registered

* at interpreter start-up by ``loomis-torchvision.pth``, which ``make install`` (that is,
  ``python -c "import loomis.compat as c; c.install_pth()"``) puts into the environment's
  site-packages, so a user's own
  script or notebook that never imports Loomis works too; its start-up cost is a few hundred
  microseconds (``bench/bench_cli.py`` measures it);
* by ``import loomis``, for environments installed without the ``.pth``.

Neither imports torch: the hook does that when torchvision is imported, and torchvision needs it.
See docs/stack-facts.md.
"""

from __future__ import annotations

import importlib.machinery
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing costs milliseconds at every start-up
if TYPE_CHECKING:  # pathlib is not imported at start-up: the .pth runs this module every time
    from pathlib import Path

PTH_NAME = "loomis-torchvision.pth"
# One line, run by ``site`` at start-up; silent when Loomis has been uninstalled since.
PTH_LINE = (
    "import importlib.util as _u; _u.find_spec('loomis') and "
    "__import__('loomis.compat').compat.install_import_hook()\n"
)

_LIBS: list = []  # a torch.library.Library is unregistered when garbage-collected


class TorchvisionHook:
    """Meta-path finder that prepares torch for torchvision the first time torchvision is looked
    up, then steps aside (it never finds anything itself)."""

    def find_spec(self, name, path=None, target=None):
        if name != "torchvision" or path is not None:
            return None
        torch = sys.modules.get("torch")
        if torch is not None and not hasattr(torch, "library"):
            return None  # torch is itself still importing; wait for the real torchvision import
        remove_import_hook()
        prepare_torchvision()
        return None


def install_import_hook() -> None:
    """Register ``TorchvisionHook`` (idempotent, imports nothing)."""
    if "torchvision" in sys.modules or any(isinstance(f, TorchvisionHook) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, TorchvisionHook())


def remove_import_hook() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, TorchvisionHook)]


def _has_nms(torch) -> bool:
    try:
        torch.ops.torchvision.nms  # noqa: B018 - probing for the operator
        return True
    except (AttributeError, RuntimeError):
        return False


def _extension_path() -> Path | None:
    """torchvision's ``_C`` extension file, found without importing torchvision."""
    from pathlib import Path

    spec = importlib.machinery.PathFinder.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            candidate = Path(folder) / f"_C{suffix}"
            if candidate.exists():
                return candidate
    return None


def prepare_torchvision() -> bool:
    """Before ``import torchvision``: load its C++ ops, or where they cannot load, define the two
    operator schemas its import needs. Returns True when the schemas had to be defined."""
    import torch

    if _has_nms(torch):
        return False
    if importlib.machinery.PathFinder.find_spec("torchvision") is None:
        return False  # not installed: nothing to prepare
    lib_path = _extension_path()
    if lib_path is not None:
        try:
            torch.ops.load_library(str(lib_path))
        except (OSError, RuntimeError):
            pass  # the CUDA build on CPU torch: undefined symbols
        if _has_nms(torch):
            return False
    lib = torch.library.Library("torchvision", "DEF")  # noqa: TOR901
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBS.append(lib)
    import logging

    logging.getLogger(__name__).debug(
        "torchvision C++ extension unavailable; defined torchvision::nms/qnms schemas (loomis.compat)"
    )
    return True


def ensure_torchvision() -> bool:
    """Make ``import torchvision`` work now, also after a failed attempt (its half-imported
    modules are dropped first). Returns True when the schemas were needed."""
    if "torchvision" in sys.modules and "torchvision.extension" in sys.modules:
        return False  # imported fine already
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    remove_import_hook()
    needed = prepare_torchvision()
    import torchvision  # noqa: F401

    return needed


# --------------------------------------------------------------------------------------------
# installing the start-up hook into an environment (``make install``)
# --------------------------------------------------------------------------------------------
def site_packages() -> Path:
    import sysconfig
    from pathlib import Path

    return Path(sysconfig.get_paths()["purelib"])


def install_pth(directory: Path | None = None) -> Path:
    """Write ``loomis-torchvision.pth`` into ``directory`` (this interpreter's site-packages)."""
    path = (directory or site_packages()) / PTH_NAME
    path.write_text(PTH_LINE)
    return path


def uninstall_pth(directory: Path | None = None) -> Path:
    path = (directory or site_packages()) / PTH_NAME
    path.unlink(missing_ok=True)
    return path
