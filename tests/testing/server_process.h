#pragma once
// Starts a real server binary for end-to-end tests: on 127.0.0.1 with --port=0 (or a given
// port, to restart a server where its clients expect it) and --port_file (STYLE.md section 8),
// waits for the port file with a deadline (inotify, no sleeping), and stops the process by
// PID. Used by every test under tests/e2e.

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace netadapt::testing {

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { Kill(); }

  // The CPUs the next Start's process may run on (empty: all). The child inherits the mask of
  // the thread that spawns it, so every thread it starts is confined too.
  void set_cpus(std::vector<int> cpus) { cpus_ = std::move(cpus); }

  // Starts `binary` with `args` plus --host=127.0.0.1 --port=<port> --port_file=<temp>;
  // returns the bound port, or an error message. `port` 0 binds any free port; a given one
  // restarts a server where its clients expect it (a restarted master).
  std::optional<int> Start(const std::string& binary, std::vector<std::string> args,
                           std::chrono::milliseconds timeout, std::string* error, int port = 0) {
    dir_ = absl::StrCat(::testing::TempDir(), "/server_", getpid(), "_", counter_++);
    std::string mkdir = absl::StrCat("mkdir -p '", dir_, "'");
    if (std::system(mkdir.c_str()) != 0) {
      *error = "cannot create " + dir_;
      return std::nullopt;
    }
    const std::string port_file = dir_ + "/port";
    std::remove(port_file.c_str());
    args.insert(args.begin(), binary);
    args.push_back("--host=127.0.0.1");
    args.push_back(absl::StrCat("--port=", port));
    args.push_back("--port_file=" + port_file);
    // Watch before starting, so the rename that publishes the file cannot be missed.
    const int inotify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    inotify_add_watch(inotify, dir_.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    cpu_set_t saved;
    CPU_ZERO(&saved);
    const bool pin = !cpus_.empty() && sched_getaffinity(0, sizeof(saved), &saved) == 0;
    if (pin) {
      cpu_set_t mask;
      CPU_ZERO(&mask);
      for (int cpu : cpus_) CPU_SET(cpu, &mask);
      sched_setaffinity(0, sizeof(mask), &mask);
    }
    const int spawned = posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv.data(), environ);
    if (pin) sched_setaffinity(0, sizeof(saved), &saved);
    if (spawned != 0) {
      *error = "cannot start " + binary;
      close(inotify);
      pid_ = -1;
      return std::nullopt;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (std::optional<int> port = ReadPort(port_file)) {
        close(inotify);
        return port;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        *error = absl::StrCat(binary, " exited with status ", status, " before serving");
        close(inotify);
        return std::nullopt;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      // Wake on any file event in the directory, and at least every 100 ms to notice a
      // crashed child.
      pollfd fd{inotify, POLLIN, 0};
      if (poll(&fd, 1, static_cast<int>(std::min<int64_t>(left.count(), 100))) > 0) {
        char buffer[4096];
        while (read(inotify, buffer, sizeof(buffer)) > 0) {
        }
      }
    }
    close(inotify);
    *error = absl::StrCat(binary, " wrote no port file within ", timeout.count(), " ms");
    return std::nullopt;
  }

  pid_t pid() const { return pid_; }

  // Sends `signal` (SIGSTOP, SIGCONT, ...) without waiting for anything.
  void Signal(int signal) {
    if (pid_ > 0) kill(pid_, signal);
  }

  // Waits up to `timeout` for the process to exit by itself; its wait status, or nullopt when
  // it still runs.
  std::optional<int> WaitForExit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      poll(nullptr, 0, 10);
    }
    return std::nullopt;
  }

  // Sends `signal` and waits up to `timeout` for the exit; the wait status, or nullopt when
  // the process is still running (it is then killed).
  std::optional<int> Stop(int signal, std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      // A child's exit has no fd to wait on without signalfd juggling: poll the pid at 10 ms.
      poll(nullptr, 0, 10);
    }
    Kill();
    return std::nullopt;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  static std::optional<int> ReadPort(const std::string& path) {
    std::ifstream in(path);
    std::string text;
    if (!in || !std::getline(in, text)) return std::nullopt;
    int port = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &port) || port <= 0) {
      return std::nullopt;
    }
    return port;
  }

  static inline int counter_ = 0;
  std::string dir_;
  pid_t pid_ = -1;
  std::vector<int> cpus_;
};

}  // namespace netadapt::testing
