"""The library logs and the CLI prints: where the harness's log records go, and what is restored."""

import io
import logging
import warnings

from harness.logs import LIBRARY_LOGGER, records_into, showing_library_logs

log = logging.getLogger("harness.tests_logs")


def test_without_the_cli_the_library_prints_nothing(capsys):
    log.info("an info line")
    assert capsys.readouterr().out == ""


def test_the_cli_shows_info_on_stdout_and_warnings_on_stderr_then_stops(capsys):
    logger = logging.getLogger(LIBRARY_LOGGER)
    before = (list(logger.handlers), logger.level)
    with showing_library_logs():
        log.info("progress %d%%", 50)
        log.warning("careful")
    out, err = capsys.readouterr()
    assert out == "progress 50%\n" and err == "careful\n"
    assert (list(logger.handlers), logger.level) == before
    log.info("after the command")
    assert capsys.readouterr().out == ""


def test_records_into_sends_the_harness_records_to_one_stream_only(capsys):
    logger = logging.getLogger(LIBRARY_LOGGER)
    before = (list(logger.handlers), logger.level, logger.propagate)
    trial = io.StringIO()
    with showing_library_logs():
        with records_into(trial):
            log.info("inside the trial")
            log.warning("a trial's warning")
            warnings.warn("a library's warning in the trial", UserWarning, stacklevel=1)
        log.info("back in the worker")
    out, err = capsys.readouterr()
    assert trial.getvalue().startswith("inside the trial\na trial's warning\n")
    assert "UserWarning: a library's warning in the trial" in trial.getvalue()
    assert out == "back in the worker\n" and err == ""
    assert (list(logger.handlers), logger.level, logger.propagate) == before


def _log_in_a_worker(text: str) -> int:
    logging.getLogger("harness.tests_logs").info("from the worker: %s", text)
    return 1


def test_records_of_spawned_workers_come_back_to_the_parents_loggers(caplog):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from harness.logs import records_from_workers, send_records_to

    context = multiprocessing.get_context("spawn")
    with caplog.at_level(logging.INFO, logger=LIBRARY_LOGGER):
        with records_from_workers(context) as queue, ProcessPoolExecutor(
                max_workers=1, mp_context=context, initializer=send_records_to, initargs=(queue,)) as pool:
            assert pool.submit(_log_in_a_worker, "hello").result() == 1
    assert "from the worker: hello" in caplog.text
