#!/usr/bin/env python3
"""Validates the compose files with `docker-compose config` (no Docker engine needed) and
checks the resolved configuration: the GPU stack (docker-compose.yml with
docker-compose.override.yml, what a plain `docker compose up` reads), the CPU stack
(docker-compose.yml with docker-compose.cpu.yml) and the worker-only host.

    check_compose.py REPO_ROOT

Exit 0: valid; 1: a problem (printed); 77: docker-compose is not installed (CTest SKIP).
Debian's docker-compose (1.29, package docker-compose) brings python3-yaml, used here.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
COMPOSE = shutil.which("docker-compose")
if COMPOSE is None:
    print("SKIP: docker-compose not installed (Debian package docker-compose; "
          "scripts/install-deps.sh installs it)")
    sys.exit(77)
import yaml  # noqa: E402  (a dependency of docker-compose)

problems = []


def check(condition, text):
    if not condition:
        problems.append(text)


def config(path, env, quiet=False):
    """`docker-compose -f PATH... config` in ROOT with `env` (PATH: a file, a list of files, or
    None for compose's defaults): (exit code, parsed or stderr)."""
    paths = [] if path is None else [path] if isinstance(path, str) else path
    args = [COMPOSE] + [a for p in paths for a in ("-f", p)] + ["config"]
    args += ["-q"] if quiet else []
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or quiet:
        return result.returncode, result.stderr
    return 0, yaml.safe_load(result.stdout)


def workers(services):
    return {name: s for name, s in services.items() if name.startswith("worker-")}


def gpu_ids(service, name):
    devices = (service.get("deploy", {}).get("resources", {}).get("reservations", {})
               .get("devices", []))
    ok = (len(devices) == 1 and devices[0].get("driver") == "nvidia" and
          devices[0].get("capabilities") == ["gpu"])
    check(ok, f"{name}: no GPU reservation (docker-compose.override.yml)")
    return devices[0].get("device_ids", []) if ok else []


def check_master(master, top, token, master_token):
    check(flag(master, "token_file") == "/run/secrets/netadapt_token",
          "master: --token_file must be the secret")
    check(any(p.get("target") == 50051 for p in master.get("ports", [])),
          "master: port 50051 must be published")
    check(any(v.endswith(":/var/lib/netadapt:rw") or ":/var/lib/netadapt" in v
              for v in master.get("volumes", [])), "master: state volume")
    check(master.get("restart") == "unless-stopped", "master: restart policy")
    check(master["healthcheck"]["test"][1:3] == ["netadapt", "health"], "master: healthcheck")
    check(flag(master, "master_token_file") == "/run/secrets/netadapt_master_token",
          "master: --master_token_file must be the secret")
    check(sorted(s["source"] for s in master["secrets"]) ==
          ["netadapt_master_token", "netadapt_token"], "master: secrets")
    check(top["secrets"]["netadapt_token"]["file"] == token, "secret file from env")
    check(top["secrets"]["netadapt_master_token"]["file"] == master_token,
          "master secret file from env")
    check("master-state" in top.get("volumes", {}), "master-state volume")


def check_worker(name, w):
    check(flag(w, "advertise_host") == name, f"{name}: --advertise_host must be {name}")
    check(flag(w, "master") == "master:50051", f"{name}: --master")
    check(flag(w, "token_file") == "/run/secrets/netadapt_token", f"{name}: token")
    check(flag(w, "master_token_file") == "/run/secrets/netadapt_master_token",
          f"{name}: takes tasks only from the master (--master_token_file)")
    check(w["depends_on"]["master"]["condition"] == "service_healthy",
          f"{name}: waits for a healthy master")
    check(any(v.endswith(":/data:ro") for v in w.get("volumes", [])),
          f"{name}: datasets read-only at /data")
    check(w.get("restart") == "unless-stopped", f"{name}: restart policy")
    check(w["healthcheck"]["test"][1:3] == ["netadapt", "health"], f"{name}: healthcheck")


def check_cli(cli):
    check(cli.get("profiles") == ["tools"], "cli: only with --profile tools / run")
    check(cli["environment"]["NETADAPT_TOKEN_FILE"] == "/run/secrets/netadapt_token",
          "cli: token")
    check([s["source"] for s in cli["secrets"]] == ["netadapt_token"],
          "cli: the cluster token only, never the master token")
    check(any(v.endswith(":/outputs:rw") for v in cli.get("volumes", [])), "cli: outputs")


def flag(service, name):
    for arg in service.get("command", []):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def main():
    tmp = tempfile.mkdtemp()
    try:
        token = os.path.join(tmp, "cluster.token")
        master_token = os.path.join(tmp, "master.token")
        for path in (token, master_token):
            with open(path, "w") as f:
                f.write("test-token\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NETADAPT_")}
        env.update(NETADAPT_TOKEN_FILE=token, NETADAPT_MASTER_TOKEN_FILE=master_token,
                   NETADAPT_DATASETS=os.path.join(tmp, "datasets"),
                   NETADAPT_OUTPUTS=os.path.join(tmp, "outputs"),
                   NETADAPT_PROFILER="jetson.test:50061")

        # The top-level file alone is valid; with its override (compose's default files) it is
        # the master and one worker per GPU.
        code, err = config("docker-compose.yml", env, quiet=True)
        check(code == 0, f"docker-compose.yml: config -q failed: {err}")
        code, top = config(None, env)
        if code != 0:
            problems.append(f"docker-compose.yml + override: config failed: {top}")
            return
        code, explicit = config(["docker-compose.yml", "docker-compose.override.yml"], env)
        check(code == 0 and explicit == top,
              "compose's default files must be docker-compose.yml and docker-compose.override.yml")
        services = top["services"]
        check_master(services["master"], top, token, master_token)
        check(flag(services["master"], "profiler") == "jetson.test:50061",
              "master: --profiler must come from NETADAPT_PROFILER")
        ws = workers(services)
        check(len(ws) >= 1, "no workers")
        ids = []
        for name, w in ws.items():
            ids += gpu_ids(w, name)
            check_worker(name, w)
            check(w["image"].startswith("netadapt-worker:"), f"{name}: the CUDA image")
        check(len(ids) == len(set(ids)), f"workers share a GPU: {ids}")
        check_cli(services["cli"])

        # The CPU stack: the same services and settings, CPU images, a profiler agent here.
        cpu_files = ["docker-compose.yml", "docker-compose.cpu.yml"]
        code, cpu = config(cpu_files, env)
        if code != 0:
            problems.append(f"docker-compose.cpu.yml: config failed: {cpu}")
            return
        services = cpu["services"]
        check(sorted(services) == ["cli", "master", "profiler", "worker-0", "worker-1"],
              f"CPU stack: services {sorted(services)}")
        check_master(services["master"], cpu, token, master_token)
        check(flag(services["master"], "profiler") == "profiler:50061",
              "CPU stack: the master measures on the profiler service, not NETADAPT_PROFILER")
        for name, w in workers(services).items():
            check_worker(name, w)
            check("deploy" not in w, f"CPU stack {name}: reserves a GPU")
            check(w["image"].startswith("netadapt-worker-cpu:") and
                  w["build"].get("target") == "worker-cpu" and
                  w["build"]["dockerfile"] == "deploy/Dockerfile", f"CPU stack {name}: image")
        profiler = services["profiler"]
        check(profiler["image"].startswith("netadapt-profiler-cpu:") and
              profiler["build"].get("target") == "profiler-cpu", "CPU stack profiler: image")
        check(flag(profiler, "token_file") == "/run/secrets/netadapt_token",
              "CPU stack profiler: the cluster token")
        check([s["source"] for s in profiler["secrets"]] == ["netadapt_token"],
              "CPU stack profiler: the cluster token only")
        check(profiler.get("restart") == "unless-stopped", "CPU stack profiler: restart policy")
        check(profiler["healthcheck"]["test"][1:3] == ["netadapt", "health"] and
              "--master=127.0.0.1:50061" in profiler["healthcheck"]["test"],
              "CPU stack profiler: healthcheck")
        check(services["master"]["build"].get("target") == "master", "master: build target")
        check_cli(services["cli"])

        # The worker-only host: refused without its required settings.
        host = "deploy/worker-host/docker-compose.yml"
        code, err = config(host, env, quiet=True)
        check(code != 0 and "NETADAPT_MASTER" in err,
              f"{host}: must refuse to start without NETADAPT_MASTER ({code}: {err})")
        env.update(NETADAPT_MASTER="master.test:50051", NETADAPT_ADVERTISE_HOST="gpu2.test")
        code, err = config(host, env, quiet=True)
        check(code == 0, f"{host}: config -q failed: {err}")
        code, remote = config(host, env)
        if code != 0:
            problems.append(f"{host}: config failed: {remote}")
            return
        ws = workers(remote["services"])
        ids, ports = [], []
        for name, w in ws.items():
            ids += gpu_ids(w, name)
            port = int(flag(w, "port"))
            ports.append(port)
            check(flag(w, "master") == "master.test:50051", f"{host} {name}: --master")
            check(flag(w, "advertise_host") == "gpu2.test", f"{host} {name}: --advertise_host")
            check(any(p.get("target") == port and p.get("published") == port
                      for p in w.get("ports", [])), f"{host} {name}: port {port} published")
            check(w["healthcheck"]["test"][-2] == f"--master=127.0.0.1:{port}",
                  f"{host} {name}: healthcheck port")
        check(len(ws) >= 1, f"{host}: no workers")
        check(len(ids) == len(set(ids)), f"{host}: workers share a GPU: {ids}")
        check(len(ports) == len(set(ports)), f"{host}: workers share a port: {ports}")
        check(remote["secrets"]["netadapt_token"]["file"] == token, f"{host}: secret file")
        for name, w in ws.items():
            check(flag(w, "master_token_file") == "/run/secrets/netadapt_master_token",
                  f"{host} {name}: --master_token_file")
    finally:
        shutil.rmtree(tmp)


main()
for p in problems:
    print(p)
print(f"check_compose: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
