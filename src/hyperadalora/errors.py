"""Exceptions shared across hyperadalora."""


class UserInputError(ValueError):
    """Bad user input; the CLI prints its one-line message and exits with code 2."""
