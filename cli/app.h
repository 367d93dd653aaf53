#pragma once

#include <iosfwd>

namespace netadapt::cli {

// Runs the `netadapt` command line: parses `argv` (CLI11 subcommands; the only place that
// knows flags), runs the chosen command with its output on `out` / `err`, and returns the
// process exit code (errors.h). `environment_master` is $NETADAPT_MASTER (nullptr when unset);
// `out_is_tty` and `terminal_width` describe `out`; `environment_token_file` and
// `environment_token` are $NETADAPT_TOKEN_FILE and $NETADAPT_TOKEN (nullptr when unset).
int RunApp(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
           const char* environment_master, bool out_is_tty, int terminal_width,
           const char* environment_token_file = nullptr, const char* environment_token = nullptr);

}  // namespace netadapt::cli
