"""User-facing errors: problems with the user's input, reported in one line with exit code 2."""


class UserError(Exception):
    """An error caused by user input (a scene file, data file, option). The CLI prints its message on one
    line and exits with code 2; ``--debug`` shows the traceback."""
