#pragma once
// Files a Python script writes for a test to compare against (PyTorch's state_dicts, inputs and
// logits), made once per script version and interpreter. Tests that include this link
// netadapt_common (file_util, sha256).

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/file_util.h"
#include "common/sha256.h"

namespace netadapt::testing {

// Runs `<python> <script> <dir>` at most once per (python, script content): the directory is
// <TempDir>/<prefix>_<hash>, shared by every test process (ctest runs each test case in a
// process of its own). The script writes into a fresh scratch directory that is then renamed
// into place, so concurrent processes never see half a set. Not thread-safe: construct it from
// one thread (a function-local static, as in the tests).
class PythonOutputs {
 public:
  // `modules`: what the script imports, e.g. "torch, torchvision"; when `python` cannot import
  // them, skip_reason() says so and nothing runs.
  PythonOutputs(const std::string& python, const std::string& script, absl::string_view prefix,
                absl::string_view modules) {
    absl::StatusOr<std::string> source = common::ReadFile(script);
    if (!source.ok()) {
      error_ = source.status().ToString();
      return;
    }
    const std::string root = ::testing::TempDir();
    dir_ = absl::StrCat(root, "/", prefix, "_",
                        common::Sha256Hex(absl::StrCat(python, "\n", *source)).substr(0, 16));
    if (std::filesystem::exists(dir_ + "/complete")) return;
    const std::string check = absl::StrCat(python, " -c 'import ", modules, "' > /dev/null 2>&1");
    if (std::system(check.c_str()) != 0) {
      skip_reason_ = absl::StrCat(python, " cannot import ", modules);
      return;
    }
    std::string scratch = absl::StrCat(root, "/", prefix, "_tmp_XXXXXX");
    if (mkdtemp(scratch.data()) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    const std::string command = absl::StrCat(python, " ", script, " ", scratch);
    if (std::system(command.c_str()) != 0) {
      error_ = absl::StrCat("`", command, "` failed");
      return;
    }
    std::FILE* complete = std::fopen((scratch + "/complete").c_str(), "w");
    if (complete != nullptr) std::fclose(complete);
    std::error_code ignored;
    std::filesystem::rename(scratch, dir_, ignored);  // fails when another process won: fine
    std::filesystem::remove_all(scratch, ignored);
    if (!std::filesystem::exists(dir_ + "/complete")) error_ = "cannot create " + dir_;
  }

  // Why the tests must skip (the interpreter lacks a module), or empty.
  const std::string& skip_reason() const { return skip_reason_; }
  // Why the files could not be made (the script failed), or empty.
  const std::string& error() const { return error_; }
  // The path of the file `name` the script wrote.
  std::string Path(absl::string_view name) const { return absl::StrCat(dir_, "/", name); }

 private:
  std::string dir_;
  std::string skip_reason_;
  std::string error_;
};

}  // namespace netadapt::testing
