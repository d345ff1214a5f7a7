"""The error types a user can see. Each carries one line a practitioner understands."""


class SkinProgressError(Exception):
    """Base class: the message is one line, fit to show to a user as it is."""


class PhotoError(SkinProgressError, ValueError):
    """A photo file that can't be used: missing, empty, truncated, not an image, too large.

    The message always names the file and says what is wrong with it.
    """


class UsageError(SkinProgressError, ValueError):
    """A malformed option or argument (a bad ``--roi``, an unknown region name...)."""
