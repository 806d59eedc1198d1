"""CPU time of a partner batch's Python work, before and after, in one process and one run:
validating 1000 records (PartnerRecordSchema().load per record, as the handler did, against
the compiled loader) and quantifying them (the definition's uncached domain functions, as
`_quantify_with` did, against the prepared, cached version).

    .venv/bin/python bench/batch_cpu.py [--records 1000] [--rounds 15]

Self-contained: a throwaway SQLite database with the seed methodologies; nothing is written
anywhere else. Prints process CPU time per batch (min and median over the rounds, before and
after interleaved so both see the same machine load) and checks both sides give the same result.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

UTC = dt.timezone.utc
SCOPES = (("transit", "metro", 40), ("transit", "bike", 15), ("transit", "bus", 20),
          ("ev_charging", None, 10), ("waste_sorting", None, 15))


def make_records(count: int, seed: int = 7) -> list:
    """Operator records as a batch body carries them, parsed the way a request body is."""
    from api.jsonbody import parse_strict_json
    rnd, now = random.Random(seed), dt.datetime.now(UTC).replace(microsecond=0)
    kinds = [scope for scope in SCOPES for _ in range(scope[2])]
    records = []
    for i in range(count):
        action_type, mode, _ = rnd.choice(kinds)
        end = now - dt.timedelta(minutes=rnd.randint(30, 3000))
        record = {"action_type": action_type, "external_id": f"R-{i}",
                  "external_ref": f"CARD-{i % 300:04d}"}
        if mode == "bus":
            record.update(mode=mode, occurred_at=end.isoformat(), boardings=1)
        elif mode:
            km = round(rnd.uniform(1, 25 if mode == "metro" else 6), 2)
            start = end - dt.timedelta(minutes=int(km * 60 / (30 if mode == "metro" else 12)) + 1)
            record.update(mode=mode, started_at=start.isoformat(), ended_at=end.isoformat(),
                          distance_km=km)
        elif action_type == "ev_charging":
            record.update(started_at=(end - dt.timedelta(hours=1)).isoformat(),
                          ended_at=end.isoformat(), energy_kwh=round(rnd.uniform(5, 60), 3),
                          station_id=f"EV-{rnd.randint(1, 50)}")
        else:
            record.update(category=rnd.choice(["paper", "plastic", "metal", "glass"]),
                          weight_kg=round(rnd.uniform(0.1, 8), 3), station_id="W-1",
                          occurred_at=end.isoformat())
        records.append(record)
    return parse_strict_json(json.dumps({"records": records}).encode())["records"]


def validate_before(raws: list) -> list:
    from api.resources.actions import PartnerRecordSchema
    schema = PartnerRecordSchema()
    return [schema.load(raw) for raw in raws]


def validate_after(raws: list) -> list:
    from api.resources.actions import load_partner_record
    return [load_partner_record(raw) for raw in raws]


def quantify_before(work: list) -> list:
    """`calculation._quantify_with` as it was: the cached definition, then per record the
    domain's uncached applicability and calculation."""
    from carbon_credits.config import get_settings
    from carbon_credits.domain import methodology as domain
    from carbon_credits.services.methodologies import calculation
    results = []
    for version, activity in work:
        definition = calculation.definition_of(version)
        reasons = domain.check_applicability(definition, activity, channel="partner")
        outcome = domain.decide(reasons)
        result = domain.calculate(definition, activity)
        points = domain.points_for(result.reduction_g, get_settings().points_per_gram)
        results.append(calculation.Quantification(
            methodology=version.methodology, version=version, calculation=result,
            reasons=reasons, outcome=outcome, points=points, daily_cap_g=version.daily_cap_g))
    return results


def quantify_after(work: list) -> list:
    from carbon_credits.services.methodologies import quantify_with_version
    return [quantify_with_version(version=version, activity=activity, channel="partner")
            for version, activity in work]


def cpu_ms(func, arg) -> float:
    started = time.process_time()
    func(arg)
    return (time.process_time() - started) * 1000


def measure(pairs: dict, rounds: int) -> dict:
    timings: dict[str, list[float]] = {name: [] for name in pairs}
    for _ in range(rounds):
        for name, (func, arg) in pairs.items():
            timings[name].append(cpu_ms(func, arg))
    return timings


def quantification_work(app, loaded: list) -> list:
    """(version in force, activity) per record, the versions read once as the pipeline does."""
    from carbon_credits.services import methodologies
    from carbon_credits.services.claims import Submission
    versions = {}
    with app.app_context():
        for action_type, mode, _ in SCOPES:
            version = methodologies.get_version_in_force_or_raise(
                action_type=action_type, mode=mode, occurred_at=dt.datetime.now(UTC))
            version.methodology  # loaded now, as the pipeline's query loads it
            versions[(action_type, mode)] = version
    return [(versions[(r["action_type"], r.get("mode"))],
             Submission(channel="partner", **r).activity()) for r in loaded]


def same_quantities(a: list, b: list) -> bool:
    def key(q):
        return (repr(q.reduction_g), json.dumps(q.breakdown), [r.as_dict() for r in q.reasons],
                q.outcome, q.points, q.daily_cap_g)
    return [key(q) for q in a] == [key(q) for q in b]


def make_app(workdir: str):
    from flask_migrate import upgrade

    from api import create_app
    from carbon_credits.services.methodologies import seed_methodologies
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = create_app({"DATABASE_URL": f"sqlite:///{workdir}/bench.db", "REDIS_URL": "",
                          "SECRET_KEY": "bench-cpu-secret-0123456789abcdef0123456789",
                          "CARBON_ENV": "test", "TESTING": True})
    logging.disable(logging.INFO)  # the migration's progress lines
    try:
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
            seed_methodologies()
    finally:
        logging.disable(logging.NOTSET)
    return app


def report(timings: dict, records: int) -> None:
    print(f"CPU ms per batch of {records} records (process_time; min / median of "
          f"{len(next(iter(timings.values())))} rounds)")
    for stage in ("validate", "quantify"):
        before, after = timings[f"{stage} before"], timings[f"{stage} after"]
        print(f"  {stage:9s} before {min(before):7.1f} / {statistics.median(before):7.1f}   "
              f"after {min(after):7.1f} / {statistics.median(after):7.1f}   "
              f"x{statistics.median(before) / statistics.median(after):.1f} (median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="cc-batch-cpu-")
    try:
        os.environ.pop("DATABASE_URL", None)
        app = make_app(workdir)
        raws = make_records(args.records)
        loaded = validate_after(raws)
        assert [list(r.items()) for r in loaded] == [list(r.items()) for r in validate_before(raws)]
        work = quantification_work(app, loaded)
        with app.app_context():
            assert same_quantities(quantify_before(work), quantify_after(work))
            timings = measure({"validate before": (validate_before, raws),
                               "validate after": (validate_after, raws),
                               "quantify before": (quantify_before, work),
                               "quantify after": (quantify_after, work)}, args.rounds)
        report(timings, args.records)
        print("  outcomes: " + json.dumps({o: sum(q.outcome == o for q in quantify_after(work))
                                           for o in ("accept", "review", "reject")}))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
