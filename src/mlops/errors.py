class MlopsError(Exception):
    """A problem the user can fix: the message says what is wrong and what to do.

    The command line prints it as one line and exits non-zero, without a traceback.
    """
