"""Loomis: how could this picture have been painted?

The core library. It knows nothing about command lines or the applications (``loomis_infer``,
``loomis_train``, ``loomis_data``, ``loomis_eval``); they import from here.

Importing ``loomis`` is cheap: it loads no torch, numpy or PIL. It registers the lazy torchvision
import hook of ``loomis.compat`` (a no-op until torchvision is imported; see docs/stack-facts.md).
"""

from loomis.compat import install_import_hook as _install_import_hook
from loomis.errors import InputError, LoomisError

_install_import_hook()

__version__ = "0.1.0"
__all__ = ["InputError", "LoomisError", "__version__"]
