"""Console logging for the demo: one line per record, tracebacks left to the admin."""

import logging


class OneLineFormatter(logging.Formatter):
    """Formats a record without its traceback (a failed event keeps it on its row)."""

    def formatException(self, ei: object) -> str:
        return ""

    def formatStack(self, stack_info: str) -> str:
        return ""
