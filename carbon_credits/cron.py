"""`rq cron carbon_credits.cron`: enqueue every due job each minute onto the `carbon_credits`
queue, where `rq worker` runs them. Jobs are idempotent and safe concurrently, so overlapping
runs or several cron processes do no harm."""
from rq import cron

from carbon_credits.jobs import job_names
from carbon_credits.tasks import QUEUE_NAME, run_job

for _name in job_names():
    cron.register(run_job, QUEUE_NAME, args=(_name,), interval=60, name=f"due:{_name}")
