#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "netadapt/v1/resources.pb.h"

namespace netadapt::cli {

// Renderings of a watched job (`netadapt watch`): pure functions of their arguments.

struct ProgressOptions {
  // Columns of the terminal: every line is cut to width - 1 so none wraps (a wrapped line
  // would break the cursor arithmetic of the redraw).
  int width = 100;
  // "Now", for the elapsed time.
  absl::Time now = absl::UnixEpoch();
};

// "[#######-------------]": `done` of `total` in a bar of `width` cells (including the
// brackets, at least 3). total <= 0 shows an empty bar.
std::string ProgressBar(int64_t done, int64_t total, int width);

// The live view for a terminal, redrawn in place at every update: job and state, iteration
// i/max with its target, resource from the seed toward the budget as a bar, accuracy so far,
// time per iteration, one line per proposal of the current iteration (state, fine-tuning bar,
// width, resource, accuracy) and the last iterations. Ends with '\n'.
std::string RenderProgress(const v1::Job& job, const ProgressOptions& options);

// The escape sequence that moves the cursor to the start of a frame of `lines` lines printed
// last and clears from there to the end of the screen; "" when lines == 0.
std::string RedrawPrefix(int lines);

// The number of lines of a rendered frame (its '\n' count).
int LineCount(const std::string& frame);

// The view for a log or a pipe: one line (no '\n') per change between `previous` (nullptr
// for the first message) and `current`: the first snapshot, state and phase changes, a new
// iteration, every finished iteration with its result, proposal state changes, fine-tuning
// progress at each quarter, and the reason of a failure. Empty when nothing shown changed.
std::vector<std::string> ChangeLines(const v1::Job* previous, const v1::Job& current);

// SUCCEEDED, FAILED or CANCELLED.
bool IsTerminal(v1::Job::State state);

}  // namespace netadapt::cli
