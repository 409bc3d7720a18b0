"""Waiting for something a test expects to happen by itself (a live change reaching the cloud,
a scheduled run), with a clear failure when it does not."""
import time


def wait_for(test, what, predicate, timeout=30, step=0.05):
    """Calls predicate every step seconds until it returns something true, and returns that;
    after timeout seconds fails the test naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(step)
    test.fail(f"{what} not within {timeout} s (last: {last!r})")
