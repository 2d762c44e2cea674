class MltError(Exception):
    """An error a user caused and can fix; its message says how. Shown as one line, never a traceback."""
