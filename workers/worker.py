"""The RQ worker liveblog runs: non-forking by default, quick to recover abandoned jobs.

A forking ``rq.Worker`` pays a fork per job (about 10 ms here) and rebuilds
nothing warm; our job catches every error itself, so a non-forking
``SimpleWorker`` keeps parsers, gazetteers and Lua scripts warm across jobs.
``--fork`` is there for operators who prefer process isolation per job.

RQ declares a job abandoned when its started-registry entry expires; the
default allows the job timeout plus 60 s, then waits for the next 10-minute
maintenance pass. Here the grace is ``abandoned_grace_s`` and maintenance runs
every ``maintenance_interval_s``, so a job whose worker was killed comes back
within seconds (the job's ``Retry`` allows it to run again).
"""

from __future__ import annotations

from rq import SimpleWorker, Worker
from rq.job import Job

from workers import runtime


class _Recovering:
    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        timeout = job.timeout if job.timeout and job.timeout > 0 else runtime.settings().job_timeout_s
        return int(max(timeout - working_time, 1)) + runtime.settings().abandoned_grace_s


class LiveblogWorker(_Recovering, SimpleWorker):
    pass


class LiveblogForkingWorker(_Recovering, Worker):
    pass
