#!/usr/bin/env python3
"""Helper of scripts/chaos.sh: polls a job, checks a round's invariants, prints the summary.

  chaos_check.py poll CLI MASTER JOB OUT [INTERVAL_S]
      Calls `CLI get JOB --output=json` every INTERVAL_S (default 0.25) until killed and
      appends one compact snapshot per answer to OUT (NDJSON: {"t": unix time, ...}).
  chaos_check.py round REFERENCE_JOB ROUND_DIR ROUND_NAME
      Checks one round against the reference job (see check_round) and prints one line;
      writes ROUND_DIR/result.json; exit 1 when an invariant fails.
  chaos_check.py summary WORK_DIR ROUND_DIR...
      The table of every round's result.json.
  chaos_check.py state JOB_JSON
      Prints the job's state (or NONE).

Only the standard library; the job JSON is the CLI's (`--output=json`, proto field names).
"""

import calendar
import json
import os
import re
import statistics
import subprocess
import sys
import time

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
PROPOSAL_DONE = ("SUCCEEDED", "TARGET_NOT_MET", "FAILED")


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def compact(job):
    """The parts of a Job the checks need: decisions, progress, no networks."""
    history = []
    for it in job.get("history", []):
        r = it.get("result", {})
        history.append({
            "iteration": it.get("iteration", 0),
            "block": it.get("chosen_block", 0),
            "digest": r.get("model_digest", ""),
            "resource": r.get("resource", 0),
            "accuracy": r.get("accuracy", 0),
        })
    proposals = []
    for p in job.get("proposals", []):
        proposals.append({
            "block": p.get("block", 0),
            "state": p.get("state", ""),
            "step": int(p.get("step", 0)),
            "attempts": p.get("attempts", 0),
            "worker": p.get("worker", ""),
            "digest": p.get("model_digest", ""),
        })
    return {
        "state": job.get("state", ""),
        "phase": job.get("phase", ""),
        "iteration": job.get("current_iteration", 0),
        "history": history,
        "proposals": proposals,
        "activity_step": int(job.get("activity_step", 0)),
    }


def poll(cli, master, name, out, interval):
    with open(out, "a") as f:
        while True:
            started = time.time()
            try:
                done = subprocess.run(
                    [cli, "get", name, "--output=json", "--master=" + master, "--timeout=2s"],
                    capture_output=True, text=True, timeout=5)
                if done.returncode == 0:
                    snapshot = compact(json.loads(done.stdout))
                    snapshot["t"] = started
                    f.write(json.dumps(snapshot) + "\n")
                else:
                    f.write(json.dumps({"t": started, "error": done.returncode}) + "\n")
                f.flush()
            except (subprocess.TimeoutExpired, ValueError):
                pass
            time.sleep(max(0.0, interval - (time.time() - started)))


def progress(s):
    """A number that grows as the job moves forward (within one run; resets on restart)."""
    if "error" in s:
        return None
    done = sum(1 for p in s["proposals"] if p["state"] in PROPOSAL_DONE)
    steps = sum(p["step"] for p in s["proposals"])
    terminal = 1 if s["state"] in TERMINAL else 0
    return (len(s["history"]), terminal, done, steps + s["activity_step"])


def decisions(job):
    """Per iteration what an undisturbed run must reproduce, and the final model."""
    rows = []
    for it in job.get("history", []):
        r = it.get("result", {})
        rows.append({
            "iteration": it.get("iteration", 0),
            "target": it.get("target_resource", 0),
            "block": it.get("chosen_block", 0),
            "layer": it.get("chosen_layer", ""),
            "widths": r.get("widths", []),
            "resource": r.get("resource", 0),
            "accuracy": r.get("accuracy", 0),
            "digest": r.get("model_digest", "")[:12],
        })
    final = job.get("final", {})
    return rows, {"widths": final.get("widths", []), "accuracy": final.get("accuracy", 0),
                  "digest": final.get("model_digest", "")[:12]}


def first_difference(reference, job):
    ref_rows, ref_final = decisions(reference)
    rows, final = decisions(job)
    for a, b in zip(ref_rows, rows):
        for key in ("target", "block", "layer", "widths", "resource", "accuracy", "digest"):
            if a[key] != b[key]:
                return "iteration {}: {} {} (reference {})".format(
                    a["iteration"], key, b[key], a[key])
    if len(rows) != len(ref_rows):
        return "{} iterations (reference {})".format(len(rows), len(ref_rows))
    for key in ("widths", "accuracy", "digest"):
        if final[key] != ref_final[key]:
            return "final {} {} (reference {})".format(key, final[key], ref_final[key])
    return None


def history_problems(job):
    """Iterations 1..n exactly once each; one proposal per block in each."""
    problems = []
    numbers = [it.get("iteration", 0) for it in job.get("history", [])]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append("history iterations {} not 1..{}".format(numbers, len(numbers)))
    for it in job.get("history", []):
        blocks = [p.get("block", 0) for p in it.get("proposals", [])]
        if len(blocks) != len(set(blocks)):
            problems.append("iteration {}: proposals for blocks {}".format(
                it.get("iteration"), blocks))
    return problems


def snapshot_problems(snapshots, final_history):
    """Every history entry ever shown is final (same block and model); never shrinks."""
    problems = {}  # first occurrence of each problem, by key
    final_by_iteration = {h["iteration"]: h for h in final_history}
    longest = 0
    ended = None
    for s in snapshots:
        if "error" in s:
            continue
        for h in s["history"]:
            f = final_by_iteration.get(h["iteration"])
            if f is None:
                problems.setdefault(("missing", h["iteration"]), (
                    "iteration {} shown at {} but not in the final history".format(
                        h["iteration"], clock(s["t"]))))
            elif (f["block"], f["digest"]) != (h["block"], h["digest"]):
                problems.setdefault(("twice", h["iteration"], h["digest"]), (
                    "iteration {} committed twice: block {} model {} at {}, then block {} "
                    "model {}".format(h["iteration"], h["block"], h["digest"][:12],
                                      clock(s["t"]), f["block"], f["digest"][:12])))
        if len(s["history"]) < longest:
            problems.setdefault(("shrank", longest, len(s["history"])), (
                "history shrank from {} to {} entries at {} (acknowledged state lost)".format(
                    longest, len(s["history"]), clock(s["t"]))))
        longest = max(longest, len(s["history"]))
        if ended and s["state"] != ended:
            problems.setdefault(("state", s["state"]), "state {} at {} after {}".format(
                s["state"], clock(s["t"]), ended))
        if s["state"] in TERMINAL:
            ended = s["state"]
    return list(problems.values())


def clock(t):
    """A poll time as the logs print it (UTC), to find the moment in master.log."""
    return time.strftime("%H:%M:%S", time.gmtime(t)) + ".{:03d}".format(int(t % 1 * 1000))


def restart_problems(round_dir, events):
    """Around each master kill: the job is there after the restart, with what it had."""
    problems = []
    for e in events:
        if e["kind"] != "master-kill":
            continue
        before = load(os.path.join(round_dir, "before-{}.json".format(e["id"])))
        after = load(os.path.join(round_dir, "after-{}.json".format(e["id"])))
        if after is None:
            problems.append("fault {}: job not found after the master restart".format(e["id"]))
            continue
        if after.get("state") == "FAILED":
            problems.append("fault {}: job FAILED after the restart: {}".format(
                e["id"], after.get("reason", "")))
        if before is None:
            continue
        b, a = compact(before)["history"], compact(after)["history"]
        if len(a) < len(b) or a[:len(b)] != b:
            problems.append("fault {}: history had {} entries before the kill, {} after "
                            "(acknowledged state lost)".format(e["id"], len(b), len(a)))
    return problems


def read_events(path):
    events = []
    try:
        with open(path) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) >= 5:
                    events.append({"id": fields[0], "kind": fields[1], "start": float(fields[2]),
                                   "end": float(fields[3]), "detail": fields[4]})
    except OSError:
        pass
    return events


def read_snapshots(path):
    snapshots = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    snapshots.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return snapshots


def recovery_times(snapshots, events):
    """Per fault: (seconds from its start until the job moved forward, seconds until the
    iteration it hit was done), None where that never happened; both None for a fault that
    came after the job had ended."""
    times = []
    for e in events:
        before = [s for s in snapshots if s["t"] <= e["start"] and progress(s) is not None]
        if not before or before[-1]["state"] in TERMINAL:
            times.append(("over", None))
            continue
        mark = progress(before[-1])
        moved = next((s["t"] - e["start"] for s in snapshots
                      if s["t"] > e["start"] and progress(s) is not None and progress(s) > mark),
                     None)
        done = next((s["t"] - e["start"] for s in snapshots
                     if s["t"] > e["start"] and progress(s) is not None and
                     progress(s)[:2] > mark[:2]), None)
        times.append((moved, done))
    return times


def max_gap(snapshots):
    """The longest time the job went without moving forward."""
    last_t, last_p, gap = None, None, 0.0
    for s in snapshots:
        p = progress(s)
        if p is None:
            continue
        if last_p is None or p != last_p:
            if last_t is not None and p > last_p:
                gap = max(gap, s["t"] - last_t)
            if last_p is None or p > last_p:
                last_t = s["t"]
            last_p = p
        if s["state"] in TERMINAL:
            break
    return gap


def seconds(job):
    """Wall time of a job: creation to its last update (the terminal one)."""
    def parse(ts):
        # 2026-11-29T13:44:10.541908486Z: whole seconds + fraction.
        whole, _, frac = ts.rstrip("Z").partition(".")
        t = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
        return t + (float("0." + frac) if frac else 0.0)
    try:
        return parse(job["update_time"]) - parse(job["create_time"])
    except (KeyError, ValueError):
        return None


def check_round(reference_path, round_dir, name):
    reference = load(reference_path)
    job = load(os.path.join(round_dir, "job.json"))
    events = read_events(os.path.join(round_dir, "events.tsv"))
    snapshots = read_snapshots(os.path.join(round_dir, "poll.ndjson"))
    hung = os.path.exists(os.path.join(round_dir, "HUNG"))
    failures = []

    state = job.get("state", "?") if job else "NO JOB"
    if hung:
        failures.append("hang: the job did not end within the round timeout")
        state = "HUNG({})".format(state)
    elif state != "SUCCEEDED":
        failures.append("job {}: {}".format(state, job.get("reason", "") if job else
                                           "GetJob failed"))
    difference = None
    if job is not None and reference is not None:
        difference = first_difference(reference, job)
        if difference and not hung:
            failures.append("decisions differ: " + difference)
        failures += history_problems(job)
        failures += snapshot_problems(snapshots, compact(job)["history"])
    failures += restart_problems(round_dir, events)

    wall = seconds(job) if job and not hung else None
    ref_wall = seconds(reference) if reference else None
    slowdown = wall / ref_wall if wall and ref_wall else None
    # The machine's load changes from round to round (other builds, other jobs): the workers'
    # own fine-tune times say how much slower this round's CPU was than the reference's.
    speed = fine_tune_median(job) / fine_tune_median(reference) if (
        job and reference and fine_tune_median(job) and fine_tune_median(reference)) else None
    adjusted = slowdown / speed if slowdown and speed else None
    recoveries = recovery_times(snapshots, events)
    during = [r for r in recoveries if r[0] != "over"]
    stalled = [e["id"] for e, r in zip(events, recoveries) if r[0] is None]
    iteration_s = [it.get("duration_seconds", 0) for it in (reference or {}).get("history", [])]
    failed_proposals = sum(1 for it in (job or {}).get("history", [])
                           for p in it.get("proposals", []) if p.get("state") == "FAILED")
    reruns = count_reruns(snapshots)
    # LATENCY jobs: chosen networks the reference measured end to end and this round did not.
    unmeasured = sum(
        1 for a, b in zip((reference or {}).get("history", []), (job or {}).get("history", []))
        if a.get("result", {}).get("measured_latency_ms") and
        not b.get("result", {}).get("measured_latency_ms"))
    log = log_counts(os.path.join(round_dir, "master.log"))

    kinds = {}
    for e in events:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    result = {
        "round": name, "faults": kinds, "state": state, "wall_s": wall,
        "reference_s": ref_wall, "slowdown": slowdown, "load": speed,
        "adjusted_slowdown": adjusted, "same_decisions": difference is None,
        "difference": difference, "faults_after_end": len(recoveries) - len(during),
        "recovery_s": [r[0] for r in during if r[0] is not None],
        "iteration_done_s": [r[1] for r in during if r[1] is not None],
        "reference_iteration_max_s": max(iteration_s) if iteration_s else None,
        "never_recovered": stalled, "max_gap_s": max_gap(snapshots),
        "failed_proposals": failed_proposals, "reruns": reruns, "unmeasured": unmeasured,
        "log": log,
        "failures": failures,
    }
    with open(os.path.join(round_dir, "result.json"), "w") as f:
        json.dump(result, f, indent=1)

    fault_text = " ".join("{}={}".format(k, v) for k, v in sorted(kinds.items())) or "none"
    rec = result["recovery_s"]
    line = ("{}: faults [{}] | {} | {} | decisions {} | history {} | state kept {} | "
            "moving again after max {} | max stall {:.1f}s | attempts failed {} (deadline {}) backup {} "
            "late refused {} | proposals failed {} rerun {}{} | {}").format(
        name, fault_text, state,
        "{:.1f}s vs {:.1f}s (x{:.2f}; fine-tunes x{:.2f}, so x{:.2f} for equal load)".format(
            wall, ref_wall, slowdown, speed, adjusted) if adjusted else
        "{:.1f}s vs {:.1f}s (x{:.2f})".format(wall, ref_wall, slowdown) if slowdown else
        "wall ?",
        "same" if difference is None else "DIFFER (" + difference + ")",
        "ok" if not history_problems(job or {}) and not any("committed twice" in p or "shrank"
                                                           in p for p in failures) else "BAD",
        "no" if any("acknowledged" in p or "not found" in p for p in failures) else "yes",
        "{:.1f}s".format(max(rec)) if rec else "-", result["max_gap_s"], log["failed_attempts"],
        log["deadline_exceeded"], log["backup_attempts"], log["late_refused"],
        failed_proposals, reruns, " unmeasured {}".format(unmeasured) if unmeasured else "",
        "PASS" if not failures else "FAIL")
    print(line)
    for f in failures:
        print("    invariant failed: " + f)
    def after(x):
        return "{:.1f} s".format(x) if x is not None else "never"
    for e, r in zip(events, recoveries):
        print("    fault {} {}: {}; {}".format(
            e["id"], e["kind"], e["detail"], "the job had already ended" if r[0] == "over" else
            "job moving again after {}, its iteration done after {}".format(
                after(r[0]), after(r[1]))))
    return 0 if not failures else 1


def fine_tune_median(job):
    """Median seconds of a finished proposal's fine-tune (measured by the worker)."""
    times = [p["fine_tune_seconds"] for it in job.get("history", [])
             for p in it.get("proposals", []) if p.get("fine_tune_seconds")]
    return statistics.median(times) if times else None


def count_reruns(snapshots):
    """Proposals shown finished, then shown running again in the same iteration."""
    finished = set()
    reruns = set()
    for s in snapshots:
        if "error" in s:
            continue
        for p in s["proposals"]:
            key = (s["iteration"], p["block"])
            if p["state"] in ("SUCCEEDED", "TARGET_NOT_MET"):
                finished.add(key)
            elif key in finished and p["state"] not in PROPOSAL_DONE:
                reruns.add(key)
    return len(reruns)


def log_counts(path):
    """What the master's log says about task attempts (counted from its warnings)."""
    counts = {"failed_attempts": 0, "deadline_exceeded": 0, "backup_attempts": 0,
              "late_refused": 0}
    attempt_failed = re.compile(r"attempt \d+.*fail")
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if attempt_failed.search(line):
                    counts["failed_attempts"] += 1
                    if "DEADLINE_EXCEEDED" in line:
                        counts["deadline_exceeded"] += 1
                if "backup attempt" in line:
                    counts["backup_attempts"] += 1
                if "refused the late result" in line:
                    counts["late_refused"] += 1
    except OSError:
        pass
    return counts


def summary(work_dir, round_dirs):
    results = [load(os.path.join(d, "result.json")) for d in round_dirs]
    results = [r for r in results if r]
    kinds = {}
    for r in results:
        for k, v in r["faults"].items():
            kinds[k] = kinds.get(k, 0) + v
    passed = sum(1 for r in results if not r["failures"])
    slow = [r["slowdown"] for r in results if r["slowdown"]]
    adjusted = [r["adjusted_slowdown"] for r in results if r.get("adjusted_slowdown")]
    rec = [x for r in results for x in r["recovery_s"]]
    its = [x for r in results for x in r.get("iteration_done_s", [])]
    gaps = [r["max_gap_s"] for r in results]
    print()
    print("| | |")
    print("|---|---|")
    print("| rounds | {} ({} passed, {} failed) |".format(len(results), passed,
                                                          len(results) - passed))
    print("| faults | {} |".format(", ".join("{} {}".format(k, v)
                                           for k, v in sorted(kinds.items())) or "none"))
    print("| reference job | {:.1f} s |".format(results[0]["reference_s"]) if results and
          results[0]["reference_s"] else "| reference job | ? |")
    if slow:
        print("| wall time vs reference | median x{:.2f}, max x{:.2f} |".format(
            statistics.median(slow), max(slow)))
    if adjusted:
        print("| the same, for equal load (divided by the fine-tune slowdown) | median x{:.2f}, "
              "max x{:.2f} |".format(statistics.median(adjusted), max(adjusted)))
    print("| decisions equal to the reference | {}/{} |".format(
        sum(1 for r in results if r["same_decisions"]), len(results)))
    if rec:
        print("| fault to the job moving forward again | median {:.1f} s, max {:.1f} s ({} "
              "faults while the job ran, {} after it ended) |".format(
                  statistics.median(rec), max(rec), len(rec),
                  sum(r.get("faults_after_end", 0) for r in results)))
    if its:
        print("| fault to the end of the iteration it hit | median {:.1f} s, max {:.1f} s "
              "(reference iterations: at most {:.1f} s) |".format(
                  statistics.median(its), max(its), results[0]["reference_iteration_max_s"] or 0))
    if gaps:
        print("| longest stall in a round | median {:.1f} s, max {:.1f} s |".format(
            statistics.median(gaps), max(gaps)))
    print("| task attempts failed (of which DEADLINE_EXCEEDED) / backup attempts / late results "
          "refused | {} ({}) / {} / {} |".format(
              *(sum(r["log"][k] for r in results) for k in
                ("failed_attempts", "deadline_exceeded", "backup_attempts", "late_refused"))))
    print("| proposals FAILED in history / re-run after shown done | {} / {} |".format(
        sum(r["failed_proposals"] for r in results), sum(r["reruns"] for r in results)))
    if any(r.get("unmeasured") for r in results):
        print("| chosen networks left without a measured latency | {} |".format(
            sum(r.get("unmeasured", 0) for r in results)))
    print("| hung rounds | {} |".format(sum(1 for r in results if r["state"].startswith("HUNG"))))
    return 0 if passed == len(results) else 1


def main(argv):
    if len(argv) >= 6 and argv[1] == "poll":
        poll(argv[2], argv[3], argv[4], argv[5], float(argv[6]) if len(argv) > 6 else 0.25)
        return 0
    if len(argv) == 5 and argv[1] == "round":
        return check_round(argv[2], argv[3], argv[4])
    if len(argv) >= 3 and argv[1] == "summary":
        return summary(argv[2], argv[3:])
    if len(argv) == 3 and argv[1] == "state":
        job = load(argv[2])
        print(job.get("state", "NONE") if job else "NONE")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
