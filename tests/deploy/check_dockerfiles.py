#!/usr/bin/env python3
"""Structural lint of the deployment files (no Docker engine needed or used).

    check_dockerfiles.py REPO_ROOT

Dockerfiles (deploy/*/Dockerfile):
  - every COPY source (not --from) exists in the repository and is not excluded by
    .dockerignore;
  - every directory the top-level CMakeLists.txt adds is copied (or the whole tree is);
  - every `cmake --build ... --target T` names an add_executable target, and every
    /build/<dir>/<binary> copied out of the build stage is that target's output;
  - the ENTRYPOINT and HEALTHCHECK run binaries the image installs, with flags the binary
    defines (ABSL_FLAG in its main.cc; CLI subcommands registered in cli/app.cc);
  - EXPOSE matches the --port default of the binary it runs;
  - deploy/master/Dockerfile (Debian) installs every package cmake/NetadaptDependencies.cmake
    requires, and each is a package scripts/install-deps.sh knows.
Compose files (docker-compose.yml, deploy/worker-host/docker-compose.yml), read as text:
  - every --flag in a service's command is a flag of the image's entrypoint binary;
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
    # absl's built-in flags.
    return flags | {"help", "helpfull", "flagfile", "fromenv", "tryfromenv"}


def cli_commands():
    return set(re.findall(r'add_subcommand\(\s*"([\w-]+)"', read("cli/app.cc")))


def port_default(binary):
    folder, main = BINARIES[binary]
    m = re.search(r"ABSL_FLAG\(\s*int\s*,\s*port\s*,\s*(\d+)", read(f"{folder}/{main}"))
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


def check_dockerfile(path):
    text = read(path)
    targets = executables()
    steps = instructions(text)
    copied_dirs, installed, whole_tree = set(), set(), False
    entry_binary = None
    patterns = dockerignore()
    for keyword, args in steps:
        if keyword == "COPY":
            parts = args.split()
            if any(p.startswith("--from") for p in parts):
                sources = [p for p in parts if not p.startswith("--")][:-1]
                for src in sources:
                    m = re.match(r"/build/([\w-]+)/([\w.-]+)$", src)
                    if m:
                        folder, name = m.groups()
                        if targets.get(name) != folder:
                            problem(path, f"copies {src}, which is not the output of a "
                                          "CMake executable target")
                        installed.add(name)
                continue
            sources = [p for p in parts if not p.startswith("--")][:-1]
            for src in sources:
                if src in (".", "./"):
                    whole_tree = True
                    continue
                if not os.path.exists(os.path.join(ROOT, src)):
                    problem(path, f"COPY source {src} does not exist in the repository")
                elif ignored(src, patterns):
                    problem(path, f"COPY source {src} is excluded by .dockerignore")
                copied_dirs.add(src.strip("/").split("/")[0])
        elif keyword == "RUN":
            for target in re.findall(r"--target\s+((?:[\w.-]+\s*)+)", args):
                for name in target.split():
                    if name.startswith("&&") or name in ("&&",):
                        break
                    if name not in targets:
                        problem(path, f"builds --target {name}, not a CMake executable target")
            if "cmake -S /src" in args and not whole_tree:
                top = read("CMakeLists.txt")
                for sub in re.findall(r"^\s*add_subdirectory\((\w[\w/-]*)\)", top, re.M):
                    first = sub.split("/")[0]
                    if first not in copied_dirs:
                        problem(path, f"configures the tree but does not COPY {first}/ "
                                      "(added by CMakeLists.txt)")
                for must in ("CMakeLists.txt", "cmake"):
                    if must not in copied_dirs:
                        problem(path, f"configures the tree but does not COPY {must}")
        elif keyword == "ENTRYPOINT":
            argv = exec_form(args)
            binary = os.path.basename(argv[0]) if argv else ""
            if binary not in BINARIES:
                problem(path, f"ENTRYPOINT runs {argv[0] if argv else '?'}, not a netadapt binary")
                continue
            if binary not in installed:
                problem(path, f"ENTRYPOINT runs {binary}, which the image does not install")
            entry_binary = binary
            check_flags(f"{path} ENTRYPOINT", binary, argv[1:])
        elif keyword == "HEALTHCHECK":
            cmd = args.split("CMD", 1)[1].strip() if "CMD" in args else ""
            argv = exec_form(cmd)
            if not argv or argv[0] != "netadapt" or "netadapt" not in installed:
                problem(path, "HEALTHCHECK must run the installed netadapt CLI")
            else:
                check_flags(f"{path} HEALTHCHECK", "netadapt", argv[1:])
    if entry_binary is None:
        problem(path, "no ENTRYPOINT")
    exposed = [int(p) for k, a in steps if k == "EXPOSE" for p in a.split()]
    if entry_binary and exposed:
        expected = port_default(entry_binary)
        entry_args = next(exec_form(a) for k, a in steps if k == "ENTRYPOINT")
        for arg in entry_args:
            if arg.startswith("--port="):
                expected = int(arg.split("=", 1)[1])
        if expected not in exposed:
            problem(path, f"EXPOSE {exposed} but {entry_binary} listens on {expected}")
    return entry_binary


def check_debian_packages(path):
    """The Debian build stage installs every package the configure step requires."""
    text = read(path)
    required = set()
    for packages in re.findall(r'netadapt_require\(\s*\S+\s+"([^"]+)"',
                               read("cmake/NetadaptDependencies.cmake")):
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


def check_compose(path, image_binaries):
    text, services = compose_services(path)
    anchors = dict(re.findall(r"^x-[\w-]+: &([\w-]+)\n((?:[ ].*\n|\n)*)", text, re.M))
    for _ in range(3):  # anchors that merge other anchors
        for anchor, body in anchors.items():
            for other, other_body in anchors.items():
                if f"<<: *{other}" in body and other != anchor:
                    anchors[anchor] = body.replace(f"<<: *{other}", other_body)
    if not services:
        problem(path, "no services")
    for name, block in services.items():
        for anchor, body in anchors.items():
            if f"<<: *{anchor}" in block:
                block = body + block
        image = re.search(r"image: netadapt-([\w-]+):", block)
        entry = re.search(r"entrypoint: \[\"(\w[\w-]*)\"\]", block)
        binary = entry.group(1) if entry else (image_binaries.get(image.group(1)) if image else None)
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


def main():
    image_binaries = {}
    for dockerfile in ("deploy/master/Dockerfile", "deploy/worker/Dockerfile",
                       "deploy/jetson/Dockerfile"):
        if not os.path.exists(os.path.join(ROOT, dockerfile)):
            problem(dockerfile, "missing")
            continue
        binary = check_dockerfile(dockerfile)
        image_binaries[dockerfile.split("/")[1]] = binary
    check_debian_packages("deploy/master/Dockerfile")
    for compose in ("docker-compose.yml", "deploy/worker-host/docker-compose.yml"):
        check_compose(compose, image_binaries)
    for p in problems:
        print(p)
    print(f"check_dockerfiles: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
