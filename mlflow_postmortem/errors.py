"""Errors a user can act on. Each message is one line naming the key, file, column or URI."""


class PostmortemError(ValueError):
    """Base class: bad input that stops a diagnosis before it can say anything useful."""


class ConfigError(PostmortemError):
    """The config file is missing, malformed, or names an unknown or invalid key."""


class DataError(PostmortemError):
    """A data file is missing or unreadable, or a column is absent or unusable."""


class ModelError(PostmortemError):
    """A model URI does not resolve to a loadable registered version."""


class TrackingError(PostmortemError):
    """The MLflow tracking server cannot be reached or refuses a request."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT, raised in the main thread so every open run ends KILLED on the way out."""

    def __init__(self, signal_name: str, signum: int) -> None:
        super().__init__(f"interrupted by {signal_name}")
        self.signum = signum
