"""forked.ForkedCall: a call run in a forked child while the parent goes on, and run again
in the parent whenever the child cannot give its result."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from alerts import forked
from alerts.forked import ForkedCall


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    # The child is started only where a second core can run it alongside: these tests are
    # about the child, whatever the machine running them has.
    monkeypatch.setattr(forked, "workers_available", lambda: 2)


class Refusal(Exception):
    """Like the audit's HistoryViolations: made from an object, so it does not pickle back."""

    def __init__(self, report: dict[str, int]) -> None:
        super().__init__(f"{report['broken']} rule(s) broken")
        self.report = report


def test_the_result_comes_from_the_child() -> None:
    parent = os.getpid()
    call = ForkedCall(lambda: (os.getpid(), "x" * 100_000))
    assert call.forked
    pid, text = call.result()
    assert pid != parent
    assert text == "x" * 100_000
    assert not call.forked  # waited for: no zombie left behind


def test_the_child_runs_while_the_parent_goes_on(tmp_path: Path) -> None:
    mark = tmp_path / "started"
    call = ForkedCall(lambda: mark.write_text("yes"))
    deadline = time.monotonic() + 10
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mark.read_text() == "yes"  # before anyone asked for the result
    assert call.result() == 3


def test_an_error_is_raised_by_the_parent_itself() -> None:
    """An exception that would not survive pickling (like HistoryViolations) is raised as it
    is, with its attributes: the parent runs the call again rather than relay it."""
    runs: list[int] = []

    def audit() -> None:
        runs.append(os.getpid())
        raise Refusal({"broken": 2})

    call = ForkedCall(audit)
    with pytest.raises(Refusal, match="2 rule") as raised:
        call.result()
    assert raised.value.report == {"broken": 2}
    assert runs == [os.getpid()]  # the child's run left nothing in the parent's list


def test_a_result_that_does_not_pickle_is_made_by_the_parent() -> None:
    parent = os.getpid()
    call = ForkedCall(lambda: (os.getpid(), lambda: "not picklable"))
    pid, made = call.result()
    assert pid == parent
    assert made() == "not picklable"


def test_a_child_that_dies_is_made_up_for_by_the_parent() -> None:
    parent = os.getpid()

    def dies_in_child() -> int:
        if os.getpid() != parent:
            os._exit(9)
        return 42

    assert ForkedCall(dies_in_child).result() == 42


def test_close_waits_for_the_child_without_its_result(tmp_path: Path) -> None:
    """A build that fails while loading content waits for the audit's child rather than
    leave it writing the audit's cache behind its back."""
    done = tmp_path / "done"

    def slow_write() -> None:
        time.sleep(0.3)
        done.write_text("written")

    with ForkedCall(slow_write) as call:
        assert call.forked
    assert done.read_text() == "written"
    assert not call.forked


def test_with_one_core_the_call_runs_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(forked, "workers_available", lambda: 1)
    ran = tmp_path / "ran"
    call = ForkedCall(lambda: ran.write_text(str(os.getpid())))
    assert not call.forked
    assert not ran.exists()
    call.result()
    assert ran.read_text() == str(os.getpid())


def test_a_child_reaped_elsewhere_is_made_up_for_by_the_parent() -> None:
    """Something else in the process (a SIGCHLD handler, say) waited for the child first:
    its result cannot be trusted to be whole, so the parent makes it."""
    call = ForkedCall(os.getpid)
    os.waitpid(call._pid, 0)
    assert call.result() == os.getpid()
    assert not call.forked


def test_no_child_while_another_thread_runs(tmp_path: Path) -> None:
    """The development server answers requests on other threads while it rebuilds: a fork
    then could copy a lock one of them holds into a child that would wait on it forever."""
    stop = threading.Event()
    server = threading.Thread(target=stop.wait)
    server.start()
    try:
        call = ForkedCall(os.getpid)
        assert not call.forked
        assert call.result() == os.getpid()
    finally:
        stop.set()
        server.join()
    assert ForkedCall(os.getpid).result() != os.getpid()  # alone again: a child
