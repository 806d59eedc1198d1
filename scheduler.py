"""`rq cron scheduler`: enqueue every due job each minute onto the `carbon_credits` queue, where
`rq worker` runs them. Jobs are idempotent and safe concurrently, so overlapping runs or several
cron processes do no harm. An entry point, beside `wsgi.py` and `worker.py`."""
from rq import cron

from carbon_credits.jobs import job_names
from carbon_credits.services.queue import QUEUE_NAME
from worker import run_job

for _name in job_names():
    cron.register(run_job, QUEUE_NAME, args=(_name,), interval=60, name=f"due:{_name}")
