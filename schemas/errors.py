"""The one error type that means "the user must fix an input or a setting".

The CLI prints it as a single line and exits 2; anything else is a bug and keeps its traceback.
It lives in the leaf package so every layer may raise it without importing the CLI.
"""


class UserInputError(ValueError):
    pass
