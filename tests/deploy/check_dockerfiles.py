#!/usr/bin/env python3
"""Structural lint of the deployment files (no Docker engine needed or used).

    check_dockerfiles.py REPO_ROOT

Dockerfiles (deploy/Dockerfile with its runtime targets, deploy/worker/Dockerfile,
deploy/jetson/Dockerfile), stage by stage (a stage FROM an earlier one inherits it):
  - every COPY source (not --from) exists in the repository and is not excluded by
    .dockerignore;
  - every directory the configure step needs is copied (or the whole tree is): those the
    top-level CMakeLists.txt adds, without tests/ and bench/ when the tests are off (the build
    script, deploy/build.sh, turns them off) and only the agent's with NETADAPT_AGENT_ONLY=ON;
  - every `cmake --build ... --target T` and every target of `deploy/build.sh build` names an
    add_executable target; every /build/<dir>/<binary> copied out of a build stage is that
    target's output, every /out/bin/<binary> one a build step built;
  - the ENTRYPOINT and HEALTHCHECK run binaries the image installs, with flags the binary
    defines (ABSL_FLAG in its main.cc; CLI subcommands registered in cli/app.cc);
  - EXPOSE matches the --port the binary listens on;
  - every runtime image (a stage with an ENTRYPOINT; not the Jetson one) runs as a non-root
    USER, has a HEALTHCHECK and installs no -dev package;
  - deploy/Dockerfile has the runtime targets master, worker-cpu and profiler-cpu, and its
    build stage installs every package cmake/NetadaptDependencies.cmake requires or prefers
    (netadapt_prefer: LAPACK) but those only the tests need, each a package
    scripts/install-deps.sh knows.
Compose files (docker-compose.yml, its overrides docker-compose.override.yml and
docker-compose.cpu.yml, deploy/worker-host/docker-compose.yml), read as text:
  - every --flag in a service's command is a flag of the image's entrypoint binary (an
    override's service without an image has the image of the file it overrides);
  - a service built from deploy/Dockerfile names a runtime target, and its image is
    netadapt-<target>;
  - every healthcheck runs `netadapt health` with a port the service listens on.
Exit 0 when all hold; 1 with one line per problem otherwise.
"""
import fnmatch
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
problems = []

# Binary name -> (source folder, main file).
BINARIES = {
    "netadapt-master": ("master", "main.cc"),
    "netadapt-worker": ("worker", "main.cc"),
    "netadapt-profiler": ("profiler-agent", "main.cc"),
    "netadapt-lut": ("profiler-agent", "lut_main.cc"),
    "netadapt": ("cli", "app.cc"),
}


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def problem(where, text):
    problems.append(f"{where}: {text}")


def executables():
    """add_executable targets of the source folders: name -> folder."""
    targets = {}
    for folder in ("master", "worker", "profiler-agent", "cli"):
        for name in re.findall(r"add_executable\(\s*([\w.-]+)", read(f"{folder}/CMakeLists.txt")):
            targets[name] = folder
    return targets


def binary_flags(binary):
    """The flags a binary accepts (without dashes)."""
    folder, main = BINARIES[binary]
    text = read(f"{folder}/{main}")
    if binary == "netadapt":
        flags = set(re.findall(r'add_(?:option|flag)\(\s*"([^"]+)"', text))
        names = set()
        for spec in flags:
            for part in spec.split(","):
                names.add(part.strip().lstrip("-"))
        return names
    flags = set(re.findall(r"ABSL_FLAG\(\s*[\w:]+\s*,\s*(\w+)", text))
    if "NETADAPT_SERVER_FLAGS(" in text:
        # The servers' shared flags, defined by the macro of common/rpc/server_flags.h.
        flags |= set(re.findall(r"ABSL_FLAG\(\s*[\w:]+\s*,\s*(\w+)", server_flags_macro()))
    # absl's built-in flags.
    return flags | {"help", "helpfull", "flagfile", "fromenv", "tryfromenv"}


def server_flags_macro():
    """The body of common/rpc/server_flags.h's NETADAPT_SERVER_FLAGS macro."""
    text = read("common/rpc/server_flags.h")
    start = text.index("#define NETADAPT_SERVER_FLAGS(")
    body = []
    for line in text[start:].splitlines():
        body.append(line)
        if not line.rstrip().endswith("\\"):
            break
    return "\n".join(body)


def cli_commands():
    return set(re.findall(r'add_subcommand\(\s*"([\w-]+)"', read("cli/app.cc")))


def port_default(binary):
    folder, main = BINARIES[binary]
    text = read(f"{folder}/{main}")
    m = re.search(r"ABSL_FLAG\(\s*int\s*,\s*port\s*,\s*(\d+)", text) or re.search(
        r"NETADAPT_SERVER_FLAGS\(\s*(\d+)", text)
    return int(m.group(1)) if m else None


def dockerignore():
    path = os.path.join(ROOT, ".dockerignore")
    if not os.path.exists(path):
        return []
    return [l.strip() for l in read(".dockerignore").splitlines()
            if l.strip() and not l.startswith("#")]


def ignored(path, patterns):
    parts = path.strip("/").split("/")
    for pattern in patterns:
        for i in range(1, len(parts) + 1):
            if fnmatch.fnmatch("/".join(parts[:i]), pattern.strip("/")):
                return True
    return False


def instructions(text):
    """(keyword, arguments) per instruction, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        if raw.lstrip().startswith("#"):
            continue
        line = raw.rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            keyword, _, args = current.strip().partition(" ")
            lines.append((keyword.upper(), args.strip()))
        current = ""
    return lines


def exec_form(args):
    return re.findall(r'"([^"]*)"', args) if args.startswith("[") else args.split()


def check_flags(where, binary, argv):
    """argv: the arguments after the binary (for netadapt, the command first)."""
    flags = binary_flags(binary)
    if binary == "netadapt":
        positional = [a for a in argv if not a.startswith("-")]
        if positional and positional[0] not in cli_commands():
            problem(where, f"netadapt has no command '{positional[0]}'")
    for arg in argv:
        if arg.startswith("-"):
            name = arg.lstrip("-").split("=", 1)[0]
            if name not in flags:
                problem(where, f"{binary} has no flag --{name}")


BUILD_SCRIPT = re.compile(
    r"(?:netadapt-build|deploy/build\.sh)\s+build\s+(\S+)\s+(\S+)\s+(\S+)\s+((?:[\w.-]+\s*)+)")


def configured_dirs(agent_only, tests):
    """The top-level add_subdirectory folders a configure step needs, following the
    if(NETADAPT_AGENT_ONLY) / if(NETADAPT_FUZZ) / if(NETADAPT_BUILD_TESTS) blocks."""
    dirs, stack = [], []
    for line in read("CMakeLists.txt").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("if("):
            m = re.match(r"if\((\w+)\)", line)
            stack.append({"NETADAPT_AGENT_ONLY": agent_only, "NETADAPT_FUZZ": False,
                          "NETADAPT_ENGINE_ONLY": False,
                          "NETADAPT_BUILD_TESTS": tests}.get(m.group(1), True) if m else True)
        elif line.startswith("endif("):
            stack.pop()
        elif all(stack):
            if line.startswith("return("):
                break
            m = re.match(r"add_subdirectory\((\w[\w/-]*)\)", line)
            if m:
                dirs.append(m.group(1).split("/")[0])
    return dirs


def stages_of(steps):
    """[(name, base, steps)] per FROM."""
    stages = []
    for keyword, args in steps:
        if keyword == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            stages.append((m.group(2) or f"stage{len(stages)}", m.group(1), []))
        elif stages:
            stages[-1][2].append((keyword, args))
    return stages


def check_dockerfile(path, runtime_rules=True):
    """Checks one Dockerfile; returns {stage: binary its ENTRYPOINT runs} for the stages with
    an ENTRYPOINT (the runtime targets). runtime_rules: each of those runs as a non-root USER,
    has a HEALTHCHECK and installs no -dev package."""
    text = read(path)
    targets = executables()
    stages = stages_of(instructions(text))
    copied_dirs, whole_tree, built = set(), False, set()
    patterns = dockerignore()
    configures = []  # (agent_only, tests) per configure step
    # A stage built FROM an earlier one inherits what it installed, its USER and so on.
    state = {}
    entries = {}
    for name, base, steps in stages:
        inherited = state.get(base, {"installed": set(), "user": None, "health": None,
                                     "entry": None, "dev": False, "expose": []})
        st = {k: (set(v) if isinstance(v, set) else v) for k, v in inherited.items()}
        where = f"{path} [{name}]"
        for keyword, args in steps:
            if keyword == "COPY":
                parts = args.split()
                sources = [p for p in parts if not p.startswith("--")][:-1]
                if any(p.startswith("--from") for p in parts):
                    for src in sources:
                        m = re.match(r"/build/([\w-]+)/([\w.-]+)$", src)
                        if m:
                            folder, binary = m.groups()
                            if targets.get(binary) != folder:
                                problem(where, f"copies {src}, which is not the output of a "
                                               "CMake executable target")
                            st["installed"].add(binary)
                        m = re.match(r"/out/bin/([\w.-]+)$", src)
                        if m:
                            if m.group(1) not in built:
                                problem(where, f"copies {src}, which no build step builds")
                            st["installed"].add(m.group(1))
                    continue
                for src in sources:
                    if src in (".", "./"):
                        whole_tree = True
                        continue
                    if not os.path.exists(os.path.join(ROOT, src)):
                        problem(where, f"COPY source {src} does not exist in the repository")
                    elif ignored(src, patterns):
                        problem(where, f"COPY source {src} is excluded by .dockerignore")
                    copied_dirs.add(src.strip("/").split("/")[0])
            elif keyword == "RUN":
                names = []
                for target in re.findall(r"--target\s+((?:[\w.-]+\s*)+)", args):
                    names += target.split()
                script = BUILD_SCRIPT.search(args)
                if script:
                    for word in script.group(4).split():
                        if word.startswith("-"):  # `--` then CMake arguments
                            break
                        names.append(word)
                    if script.group(1) != "/src":
                        problem(where, f"the build script configures {script.group(1)}, "
                                       "not /src")
                for binary in names:
                    if binary not in targets:
                        problem(where, f"builds {binary}, not a CMake executable target")
                    built.add(binary)
                if "cmake -S /src" in args or script:
                    agent_only = "NETADAPT_AGENT_ONLY=ON" in args
                    tests = not script and "NETADAPT_BUILD_TESTS=OFF" not in args
                    configures.append((agent_only, tests))
                if re.search(r"apt-get install[^&|;]*\s[\w.+-]+-dev\b", args):
                    st["dev"] = True
            elif keyword == "USER":
                st["user"] = args.split()[0]
            elif keyword == "HEALTHCHECK":
                st["health"] = args
                cmd = args.split("CMD", 1)[1].strip() if "CMD" in args else ""
                argv = exec_form(cmd)
                if not argv or argv[0] != "netadapt" or "netadapt" not in st["installed"]:
                    problem(where, "HEALTHCHECK must run the installed netadapt CLI")
                else:
                    check_flags(f"{where} HEALTHCHECK", "netadapt", argv[1:])
            elif keyword == "ENTRYPOINT":
                argv = exec_form(args)
                binary = os.path.basename(argv[0]) if argv else ""
                if binary not in BINARIES:
                    problem(where, f"ENTRYPOINT runs {argv[0] if argv else '?'}, not a netadapt "
                                   "binary")
                    continue
                if binary not in st["installed"]:
                    problem(where, f"ENTRYPOINT runs {binary}, which the image does not install")
                check_flags(f"{where} ENTRYPOINT", binary, argv[1:])
                st["entry"] = (binary, argv)
            elif keyword == "EXPOSE":
                st["expose"] = st["expose"] + [int(p) for p in args.split()]
        state[name] = st
        if st["entry"] is None:
            continue
        binary, argv = st["entry"]
        entries[name] = binary
        expected = port_default(binary)
        for arg in argv:
            if arg.startswith("--port="):
                expected = int(arg.split("=", 1)[1])
        if st["expose"] and expected not in st["expose"]:
            problem(where, f"EXPOSE {st['expose']} but {binary} listens on {expected}")
        if runtime_rules:
            if st["user"] in (None, "root", "0"):
                problem(where, "runs as root: give it a USER")
            if st["health"] is None:
                problem(where, "no HEALTHCHECK")
            if st["dev"]:
                problem(where, "installs -dev packages: a runtime image holds only what its "
                               "binaries load")
    for agent_only, tests in configures:
        if whole_tree:
            break
        for first in configured_dirs(agent_only, tests) + ["CMakeLists.txt", "cmake"]:
            if first not in copied_dirs:
                problem(path, f"configures the tree but does not COPY {first}"
                              + ("/ (added by CMakeLists.txt)" if first not in
                                 ("CMakeLists.txt", "cmake") else ""))
    if not entries:
        problem(path, "no ENTRYPOINT")
    return entries


def check_debian_packages(path):
    """The Debian build stage installs every package the configure step requires (the build
    script configures without tests: what only they need is not required)."""
    text = read(path)
    required = set()
    deps_cmake = read("cmake/NetadaptDependencies.cmake").split("if(NETADAPT_BUILD_TESTS", 1)[0]
    # netadapt_prefer: optional for a build (a slower fallback), never for the images.
    for packages in re.findall(r'netadapt_(?:require|prefer)\(\s*\S+\s+"([^"]+)"', deps_cmake):
        required.update(packages.split())
    deps = read("scripts/install-deps.sh")
    listed = deps.split("packages=(", 1)[1].split("\n)", 1)[0]
    listed = "\n".join(l.split("#", 1)[0] for l in listed.splitlines())
    known = set(re.findall(r"[a-z0-9][a-z0-9+.-]+", listed))
    words = set(re.findall(r"[a-z0-9][a-z0-9+.-]+", text))
    for package in sorted(required):
        if package not in words:
            problem(path, f"does not install {package} (required by cmake/NetadaptDependencies.cmake)")
        if package not in known:
            problem("scripts/install-deps.sh", f"does not list {package}")


def compose_services(path):
    """Service name -> its text block, for the top-level `services:` of a compose file."""
    text = read(path)
    services, current, in_services = {}, None, False
    for line in text.splitlines():
        if re.match(r"^\S", line):
            in_services = line.startswith("services:")
            current = None
            continue
        m = re.match(r"^  ([\w-]+):\s*$", line)
        if in_services and m:
            current = m.group(1)
            services[current] = ""
            continue
        if in_services and current:
            services[current] += line + "\n"
    return text, services


def check_compose(path, image_binaries, base=None):
    """image_binaries: image name (netadapt-NAME) -> its entrypoint binary. base: for an
    override file, the services of the file it overrides (name -> image). Returns the
    services' images."""
    text, services = compose_services(path)
    anchors = dict(re.findall(r"^x-[\w-]+: &([\w-]+)\n((?:[ ].*\n|\n)*)", text, re.M))
    for _ in range(3):  # anchors that merge other anchors
        for anchor, body in anchors.items():
            for other, other_body in anchors.items():
                if f"<<: *{other}" in body and other != anchor:
                    anchors[anchor] = body.replace(f"<<: *{other}", other_body)
    if not services:
        problem(path, "no services")
    images = {}
    for name, block in services.items():
        for anchor, body in anchors.items():
            if f"<<: *{anchor}" in block:
                block = body + block
        image = re.search(r"image: netadapt-([\w-]+):", block)
        image = image.group(1) if image else (base or {}).get(name)
        images[name] = image
        target = re.search(r"\n\s+target: ([\w-]+)", block)
        if target and re.search(r"dockerfile: deploy/Dockerfile\b", block):
            if target.group(1) not in image_binaries:
                problem(f"{path} {name}", f"builds target {target.group(1)}, not a runtime "
                                          "target of deploy/Dockerfile")
            elif image != target.group(1):
                problem(f"{path} {name}", f"image netadapt-{image} built from target "
                                          f"{target.group(1)}")
        entry = re.search(r"entrypoint: \[\"(\w[\w-]*)\"\]", block)
        binary = entry.group(1) if entry else image_binaries.get(image)
        if binary is None:
            problem(f"{path} {name}", "no netadapt image or entrypoint")
            continue
        command = re.search(r"\n    command:\n((?:      - .*\n)+)", "\n" + block)
        if command:
            argv = [l.strip()[2:] for l in command.group(1).splitlines()]
            check_flags(f"{path} {name}", binary, argv)
        health = re.search(r"test: \[(.*)\]", block)
        if health:
            argv = re.findall(r'"([^"]*)"', health.group(1))
            if argv[:3] != ["CMD", "netadapt", "health"]:
                problem(f"{path} {name}", "healthcheck must be `netadapt health`")
            check_flags(f"{path} {name} healthcheck", "netadapt", argv[2:])
            port = next((a.rsplit(":", 1)[1] for a in argv if a.startswith("--master=")), None)
            listens = re.search(r"--port=(\d+)", block)
            expected = listens.group(1) if listens else str(port_default(binary))
            if port != expected:
                problem(f"{path} {name}", f"healthcheck probes port {port}, service listens on "
                                          f"{expected}")
    return images


def main():
    # Image names (netadapt-NAME) -> the binary their ENTRYPOINT runs: the runtime targets of
    # deploy/Dockerfile, the CUDA worker (netadapt-worker) and the Jetson agent.
    image_binaries = {}
    for dockerfile, image in (("deploy/Dockerfile", None), ("deploy/worker/Dockerfile", "worker"),
                              ("deploy/jetson/Dockerfile", "profiler")):
        if not os.path.exists(os.path.join(ROOT, dockerfile)):
            problem(dockerfile, "missing")
            continue
        # The Jetson image runs the agent as NVIDIA's L4T images do (root, no CLI to probe).
        entries = check_dockerfile(dockerfile, runtime_rules="jetson" not in dockerfile)
        if image is None:
            image_binaries.update(entries)
        elif entries:
            image_binaries[image] = next(iter(entries.values()))
    for target in ("master", "worker-cpu", "profiler-cpu"):
        if target not in image_binaries:
            problem("deploy/Dockerfile", f"no runtime target {target}")
    check_debian_packages("deploy/Dockerfile")
    base = check_compose("docker-compose.yml", image_binaries)
    for override in ("docker-compose.override.yml", "docker-compose.cpu.yml"):
        check_compose(override, image_binaries, base)
    check_compose("deploy/worker-host/docker-compose.yml", image_binaries)
    for p in problems:
        print(p)
    print(f"check_dockerfiles: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
