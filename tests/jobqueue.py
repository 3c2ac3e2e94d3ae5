"""A job queue on redstart with a real library: Python rq (https://python-rq.org).

rq keeps queues as lists, registries (started, finished, failed, deferred, scheduled) as sorted
sets, jobs as hashes, worker sets as sets, and results as streams. This script enqueues a few
hundred jobs on several queues (plain, failing, with dependencies, scheduled, with a priority
queue in front), runs an in-process `SimpleWorker` in burst mode, and checks every job's status
and result. It prints one `OK ...` line and exits 0 on success; any failed check raises.

Usage: python3 tests/jobqueue.py PORT
"""

import sys
import time
from datetime import timedelta

import redis
from rq import Queue, SimpleWorker, Retry
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry


def square(x):
    return x * x


def concat(a, b, sep="-"):
    return f"{a}{sep}{b}"


def boom(n):
    raise ValueError(f"boom {n}")


def total(*job_ids):
    """Sums the results of the given jobs (run after them through `depends_on`)."""
    conn = redis.Redis(port=PORT)
    return sum(Job.fetch(j, connection=conn).return_value() for j in job_ids)


_flaky_calls = {}


def flaky(key):
    """Fails on its first call, succeeds on the retry."""
    _flaky_calls[key] = _flaky_calls.get(key, 0) + 1
    if _flaky_calls[key] == 1:
        raise RuntimeError("first attempt fails")
    return f"retried {key}"


PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 6379


def main():
    conn = redis.Redis(port=PORT)
    conn.flushall()
    high = Queue("high", connection=conn)
    default = Queue("default", connection=conn)
    low = Queue("low", connection=conn)

    squares = [default.enqueue(square, i, result_ttl=600) for i in range(200)]
    concats = [low.enqueue(concat, f"a{i}", f"b{i}", sep=":") for i in range(50)]
    urgent = [high.enqueue(square, 1000 + i) for i in range(20)]
    failing = [default.enqueue(boom, i) for i in range(10)]
    # A job that waits for ten others and sums their results.
    parts = [low.enqueue(square, i) for i in range(10)]
    summed = default.enqueue(total, *[p.id for p in parts], depends_on=parts)
    retried = [default.enqueue(flaky, f"k{i}", retry=Retry(max=2)) for i in range(5)]
    # rq's scheduler (enqueue_in/enqueue_at, and its lock) runs Lua scripts (EVALSHA): only
    # when the server has scripting. Scheduled a moment ahead: the worker's scheduler moves it
    # to the queue once due.
    scripting = has_scripting(conn)
    later = default.enqueue_in(timedelta(seconds=1), square, 7) if scripting else None
    at_front = default.enqueue(concat, "x", "y", at_front=True)

    assert summed.get_status() == JobStatus.DEFERRED, summed.get_status()
    assert later is None or later.get_status() == JobStatus.SCHEDULED, later.get_status()
    assert len(high) == 20 and len(low) == 60, (len(high), len(low))
    assert default.job_ids[0] == at_front.id, "at_front job is first"

    worker = SimpleWorker([high, default, low], connection=conn)
    deadline = time.time() + 60
    # Burst mode exits when the queues are empty; run again until the scheduled job has run.
    while True:
        worker.work(burst=True, with_scheduler=scripting, logging_level="CRITICAL")
        later_done = later is None or later.get_status(refresh=True) == JobStatus.FINISHED
        if later_done and retried[-1].get_status(refresh=True) == JobStatus.FINISHED:
            break
        assert time.time() < deadline, "scheduled/retried jobs never ran"
        time.sleep(0.3)
        worker = SimpleWorker([high, default, low], connection=conn)

    for i, j in enumerate(squares):
        assert j.get_status(refresh=True) == JobStatus.FINISHED, (i, j.get_status())
        assert j.return_value() == i * i, (i, j.return_value())
    for i, j in enumerate(concats):
        assert j.return_value() == f"a{i}:b{i}", j.return_value()
    for i, j in enumerate(urgent):
        assert j.return_value() == (1000 + i) ** 2
    for i, j in enumerate(failing):
        assert j.get_status(refresh=True) == JobStatus.FAILED, j.get_status()
        assert f"boom {i}" in (j.latest_result().exc_string or ""), j.latest_result()
    assert summed.get_status(refresh=True) == JobStatus.FINISHED, summed.get_status()
    assert summed.return_value() == sum(i * i for i in range(10)), summed.return_value()
    for i, j in enumerate(retried):
        assert j.return_value() == f"retried k{i}", j.return_value()
    assert later is None or later.return_value() == 49
    assert at_front.return_value() == "x-y"

    finished = FinishedJobRegistry(queue=default)
    failed = FailedJobRegistry(queue=default)
    assert len(failed) == 10, len(failed)
    assert squares[0].id in finished.get_job_ids(), "finished registry"
    assert len(default) == 0 and len(high) == 0 and len(low) == 0
    # The high queue was drained before the others: its jobs all ended before the first square.
    for j in squares[:5] + urgent:
        j.refresh()
    first_square_start = min(j.started_at for j in squares[:5])
    assert max(j.ended_at for j in urgent) <= first_square_start, "queue priority"

    jobs = len(squares) + len(concats) + len(urgent) + len(failing) + len(parts) + 1 + len(retried) + 1
    jobs += 0 if later is None else 1
    sched = "with" if scripting else "without (no EVALSHA)"
    print(f"OK {jobs} jobs: {jobs - len(failing)} finished, {len(failed)} failed as expected; {sched} scheduler")


def has_scripting(conn):
    """Whether the server runs Lua scripts (SCRIPT EXISTS is an unknown command otherwise)."""
    try:
        conn.execute_command("SCRIPT", "EXISTS", "0" * 40)
        return True
    except redis.ResponseError:
        return False


if __name__ == "__main__":
    # rq refuses functions from `__main__` (a worker could not import them): run as the
    # importable module `jobqueue`, so jobs reference `jobqueue.square` and friends.
    import os

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import jobqueue

    jobqueue.main()
