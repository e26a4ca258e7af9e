"""The harness's logging: library code logs, the command line decides what shows.

Library code never prints: it logs to ``logging.getLogger("harness.<module>")``
(progress bars, on stderr through tqdm, are the one exception), so a notebook or a
program that imports the harness decides for itself what to show.

- :func:`showing_library_logs` is what the CLI wraps a command in: the harness's log
  records become the command's output, INFO lines on stdout, warnings and errors
  on stderr, the message alone (as ``print`` and Python's last-resort handler
  showed them before).
- :func:`records_into` points the harness's records at one stream for a while and
  nowhere else: an inline sweep trial's output goes to its trial log, as a child
  process's would, without touching the process's stdout or stderr.
- :func:`send_records_to` and :func:`records_from_workers` carry the records of
  spawned worker processes (the demo's pools) back to the parent's loggers.
"""

from __future__ import annotations

import logging
import sys
import warnings
from contextlib import contextmanager
from typing import IO

LIBRARY_LOGGER = "harness"


class ConsoleHandler(logging.Handler):
    """INFO and below on stdout, WARNING and above on stderr, message only.

    The streams are looked up at each record, not when the handler is made, so a
    redirected or captured ``sys.stdout`` (pytest's, a shell pipe) gets them.
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stdout if record.levelno < logging.WARNING else sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging's own rule: a broken stream never raises here
            self.handleError(record)


@contextmanager
def showing_library_logs(level: int = logging.INFO):
    """For the life of the block, the harness's log records are printed (see the module doc)."""
    logger = logging.getLogger(LIBRARY_LOGGER)
    handler = ConsoleHandler()
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


@contextmanager
def records_into(stream: IO[str], level: int = logging.INFO):
    """For the life of the block, the harness's log records (INFO and up) go to ``stream`` only,
    and so do Python warnings shown meanwhile (as a child process's stderr would hold them).

    The harness logger's own handlers and its propagation are set aside and restored
    afterwards, and the warning filters with them; loggers of other libraries are not touched.
    """
    logger = logging.getLogger(LIBRARY_LOGGER)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = (list(logger.handlers), logger.level, logger.propagate)
    logger.handlers = [handler]
    logger.setLevel(level)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: stream.write(
                warnings.formatwarning(message, category, filename, lineno, line))
            yield handler
    finally:
        handler.flush()
        logger.handlers, logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])


class _Relay(logging.Handler):
    """Hands a record from a worker process to this process's logger of the same name."""

    def handle(self, record: logging.LogRecord) -> bool:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() does the work
        pass


def send_records_to(queue) -> None:
    """In a worker process (a pool's initializer): its harness records go to ``queue``.

    :func:`records_from_workers` in the parent logs them there, so the parent's
    configuration (the CLI's, or the notebook's) decides what shows.
    """
    from logging.handlers import QueueHandler

    logger = logging.getLogger(LIBRARY_LOGGER)
    logger.handlers = [QueueHandler(queue)]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False


@contextmanager
def records_from_workers(context):
    """A queue (of multiprocessing ``context``) for :func:`send_records_to`; its records are re-logged here."""
    from logging.handlers import QueueListener

    queue = context.Queue()
    listener = QueueListener(queue, _Relay())
    listener.start()
    try:
        yield queue
    finally:
        listener.stop()
