"""Loomis: how could this picture have been painted?

The core library. It knows nothing about command lines or the applications (``loomis_infer``,
``loomis_train``, ``loomis_data``, ``loomis_eval``); they import from here.
"""

from loomis.errors import InputError, LoomisError

__version__ = "0.1.0"
__all__ = ["InputError", "LoomisError", "__version__"]
