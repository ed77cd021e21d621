"""What belongs to one invocation stays with it when ``chalice local`` (or a concurrency test)
serves requests on threads of one process: its metrics and its log keys (issue 16: one thread
flushed while another added a metric, and a request answered 500)."""

import io
import json
import logging
import threading
from contextlib import redirect_stdout

from chalicelib.observability import begin_invocation, count, flush_metrics, log_keys, logger


def _in_thread(fn):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", fn()))
    thread.start()
    thread.join()
    return result.get("value")


def _emf_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            names |= {m["Name"] for m in directive["Metrics"]}
    return names


def test_a_flush_on_one_thread_publishes_only_that_threads_metrics():
    begin_invocation()
    count("CountedHere")
    other = io.StringIO()

    def other_invocation():
        begin_invocation()
        count("CountedThere")
        with redirect_stdout(other):
            flush_metrics()

    _in_thread(other_invocation)
    mine = io.StringIO()
    with redirect_stdout(mine):
        flush_metrics()

    assert _emf_names(other.getvalue()) == {"CountedThere"}
    assert _emf_names(mine.getvalue()) == {"CountedHere"}


def test_counting_while_another_thread_flushes_never_fails():
    # Given two invocations on two threads, one counting and one flushing, many times over
    errors: list[BaseException] = []
    stop = threading.Event()

    def counting():
        try:
            while not stop.is_set():
                begin_invocation()
                for n in range(20):
                    count(f"Metric{n}")
                with redirect_stdout(io.StringIO()):
                    flush_metrics()
        except BaseException as e:
            errors.append(e)

    # When both run at once
    threads = [threading.Thread(target=counting) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(200):
        with redirect_stdout(io.StringIO()):
            count("Main")
            flush_metrics()
    stop.set()
    for t in threads:
        t.join()

    # Then none of them saw another's metric set change under it
    assert errors == []


def test_log_keys_belong_to_the_thread_that_set_them():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)
    try:
        begin_invocation()
        log_keys(tenant_id="t-main")

        def other_invocation():
            begin_invocation()
            log_keys(tenant_id="t-other")
            logger.info("from the other thread")

        _in_thread(other_invocation)
        logger.info("from the main thread")
    finally:
        logger._logger.removeHandler(handler)
        begin_invocation()

    lines = {json.loads(line)["message"]: json.loads(line) for line in stream.getvalue().splitlines()}
    assert lines["from the other thread"]["tenant_id"] == "t-other"
    assert lines["from the main thread"]["tenant_id"] == "t-main"
