#!/usr/bin/env python3
"""Helper of scripts/compose-test.sh: reads the CLI's JSON (`--output=json`) of a job and of
the workers.

  compose_test_check.py running JOB_JSON WORKERS_JSON
      Prints the host of a worker running one of the job's proposals (the compose service
      name, from the worker's registered address `worker-0:50071`), or nothing.
  compose_test_check.py progress JOB_JSON
      Prints the job's state and the number of finished iterations: `RUNNING 2`.
  compose_test_check.py compare REFERENCE_JSON JOB_JSON
      The job must have SUCCEEDED with the decisions of the reference (target, block, layer,
      widths, resource, accuracy and model per iteration; the final model), its history
      numbered 1..n once each. Prints one line; exit 1 when they differ.

The comparison is scripts/chaos_check.py's (first_difference, history_problems).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos_check  # noqa: E402


# Proposal states while a task of it runs on a worker.
RUNNING = ("SIMPLIFYING", "FINE_TUNING", "EVALUATING")


def load(path):
    with open(path) as f:
        return json.load(f)


def running(job, workers):
    if isinstance(workers, dict):
        workers = workers.get("workers", [])
    address = {w.get("name", ""): w.get("address", "") for w in workers}
    for proposal in job.get("proposals", []):
        if proposal.get("state") in RUNNING and proposal.get("worker"):
            host = address.get(proposal["worker"], "").rsplit(":", 1)[0]
            if host:
                return host
    return ""


def main(argv):
    if len(argv) == 4 and argv[1] == "running":
        print(running(load(argv[2]), load(argv[3])))
        return 0
    if len(argv) == 3 and argv[1] == "progress":
        job = load(argv[2])
        print(job.get("state", "NONE"), len(job.get("history", [])))
        return 0
    if len(argv) == 4 and argv[1] == "compare":
        reference, job = load(argv[2]), load(argv[3])
        problems = []
        if job.get("state") != "SUCCEEDED":
            problems.append("state {} ({})".format(job.get("state"), job.get("reason", "")))
        difference = chaos_check.first_difference(reference, job)
        if difference:
            problems.append(difference)
        problems += chaos_check.history_problems(job)
        iterations = len(job.get("history", []))
        widths = job.get("final", {}).get("widths", [])
        if problems:
            print("DIFFERENT from the undisturbed run: " + "; ".join(problems))
            return 1
        print("same decisions as the undisturbed run: {} iterations, final widths {}".format(
            iterations, widths))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
