"""The ONNX quantiser's ~90 root-logger lines are dropped; everyone else's logging is not."""

from __future__ import annotations

import logging

from churn_model.encoder_onnx import quiet_root_logger


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_root_logger_lines_are_dropped_and_named_loggers_still_print():
    root = logging.getLogger()
    kept = _Keep()
    root.addHandler(kept)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        with quiet_root_logger():
            logging.info("Quantization parameters for tensor not specified")  # as the quantiser logs
            logging.warning("Please consider to run pre-processing before quantization")
            logging.getLogger("churn_model.train").info("training goes on")
            logging.error("a real failure still shows")
        logging.info("after the block the root logs again")
    finally:
        root.removeHandler(kept)
        root.setLevel(level)
    assert kept.messages == [
        "training goes on",
        "a real failure still shows",
        "after the block the root logs again",
    ]


def test_no_handler_is_left_behind_when_the_root_had_none():
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()
    try:
        with quiet_root_logger():
            logging.warning("would install a stderr handler through basicConfig")
        assert root.handlers == []
    finally:
        root.handlers[:] = saved
