"""Loomis: how could this picture have been painted?

The core library. It knows nothing about command lines or the applications (``loomis_infer``,
``loomis_train``, ``loomis_data``, ``loomis_eval``); they import from here.
"""

import importlib.util as _ilu

from loomis.errors import InputError, LoomisError

# transformers, lpips and open_clip import torchvision whenever it is installed; on CPU-only torch
# that import fails unless shimmed first (see loomis/compat.py). Done once, here, before any of them.
if _ilu.find_spec("torchvision") is not None and _ilu.find_spec("torch") is not None:
    from loomis.compat import ensure_torchvision as _ensure_torchvision

    _ensure_torchvision()

__version__ = "0.1.0"
__all__ = ["InputError", "LoomisError", "__version__"]
