"""User-facing errors: problems with the user's input, reported in one line with exit code 2."""


class UserError(Exception):
    """An error caused by user input (a scene file, data file, option). The CLI prints its message on one
    line and exits with code 2; ``--debug`` shows the traceback."""


class Interrupted(BaseException):
    """A run stopped by a signal (Ctrl-C, SIGTERM). The CLI prints its one-line message and exits with
    ``exit_code`` (128 + the signal number: 130, 143). A ``BaseException``, like ``KeyboardInterrupt``, so
    that no ``except Exception`` on the way up mistakes it for a failure of its own."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class SettingError(UserError, ValueError):
    """A component's setting that does not suit the data (a tri-plane on 2D input): raised by the component as
    ``ValueError`` and re-raised by ``Registry.build`` as this, which is both."""
