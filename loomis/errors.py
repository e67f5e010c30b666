"""Exception types that map onto the command-line contract's exit codes.

``InputError`` is anything the *user* can fix (bad file, unknown medium, wrong flag value): the
entry points print ``error: <message>`` on one line and exit 2. Any other exception is an internal
failure (exit 1, traceback shown).
"""


class LoomisError(Exception):
    """Base class of Loomis' own errors."""


class InputError(LoomisError, ValueError):
    """Bad input or usage; the message says what to fix. Exit code 2 at the command line."""
