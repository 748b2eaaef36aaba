"""tests/waiting.py, the one wait of the test suite: it returns what it waited for, and fails saying what for."""

import http.server
import subprocess
import sys
import threading
import time

import pytest

from tests.waiting import wait_for_url, wait_until


def test_the_first_truthy_answer_is_returned_and_ignored_errors_count_as_not_yet():
    answers = iter([KeyError("not yet"), 0, None, "here"])

    def check():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_until(check, 5, "the answer", interval=0.01, ignore=(KeyError,)) == "here"
    with pytest.raises(ValueError):  # an error not named in `ignore` is the test's failure, at once
        wait_until(lambda: int("x"), 5)


def test_a_wait_ends_at_its_limit_or_when_the_process_has_exited_naming_what_it_waited_for():
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"waiting for the flag: 0.3 s passed; last: False"):
        wait_until(lambda: False, 0.3, "the flag", interval=0.05)
    assert 0.3 <= time.monotonic() - started < 2
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with pytest.raises(AssertionError, match=r"waiting for the server: the process exited with 0"):
        wait_until(lambda: False, 60, lambda: "the server", process=gone)


def test_a_url_is_waited_for_until_it_answers_with_a_success_status():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with server:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        wait_for_url(url + "/", 5)
        with pytest.raises(AssertionError, match="/no-such-file"):  # 404: not a success
            wait_for_url(url + "/no-such-file", 0.3)
        server.shutdown()
