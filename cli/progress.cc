#include "cli/progress.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/job_format.h"

namespace netadapt::cli {
namespace {

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

// Cuts `line` to `width` - 1 columns (our text is ASCII: one byte, one column).
std::string Fit(std::string line, int width) {
  const size_t max = static_cast<size_t>(std::max(width - 1, 10));
  if (line.size() > max) {
    line.resize(max - 3);
    line += "...";
  }
  return line;
}

std::vector<const v1::Proposal*> ByBlock(const v1::Job& job) {
  std::vector<const v1::Proposal*> proposals;
  for (const v1::Proposal& p : job.proposals()) proposals.push_back(&p);
  std::stable_sort(proposals.begin(), proposals.end(),
                   [](const v1::Proposal* a, const v1::Proposal* b) {
                     return a->block() < b->block();
                   });
  return proposals;
}

std::string BlockLabel(const v1::Proposal& p) {
  return p.layer().empty() ? absl::StrCat("block ", p.block())
                           : absl::StrCat("block ", p.block(), " (", p.layer(), ")");
}

// The seed's resource, or 0 when unknown.
double SeedResource(const v1::Job& job) { return job.seed().resource(); }

// The resource reached so far: the last iteration's, else the seed's.
const v1::ModelResult* Latest(const v1::Job& job) {
  if (job.history_size() > 0) return &job.history(job.history_size() - 1).result();
  if (job.seed().resource() > 0 || job.seed().accuracy() > 0) return &job.seed();
  return nullptr;
}

// Which quarter (0-4) of its steps a proposal has done.
int64_t Quarter(const v1::Proposal& p) {
  if (p.total_steps() <= 0) return 0;
  return std::clamp<int64_t>(p.step() * 4 / p.total_steps(), 0, 4);
}

std::string IterationLine(const v1::Iteration& it, const v1::Job& job) {
  const v1::ResourceType type = job.spec().resource_type();
  std::string line = absl::StrCat("iteration ", it.iteration(), "/", MaxIters(job.spec()),
                                  " done: block ", it.chosen_block());
  if (!it.chosen_layer().empty()) absl::StrAppend(&line, " (", it.chosen_layer(), ")");
  absl::StrAppend(&line, ", resource ", FormatResource(it.result().resource(), type));
  if (const double calibrated = CalibratedLatency(job, it.result()); calibrated > 0) {
    absl::StrAppend(&line, ", calibrated ", FormatResource(calibrated, type));
  }
  if (it.result().measured_latency_ms() > 0) {
    absl::StrAppend(&line, " (measured ", MeasuredLatencyText(it.result()), ")");
  }
  absl::StrAppend(&line, ", accuracy ", FormatPercent(it.result().accuracy()), ", took ",
                  HumanDuration(absl::Seconds(it.duration_seconds())));
  if (const v1::LatencyMeasurements* m = IterationMeasurements(job, it.iteration())) {
    absl::StrAppend(&line, "; device: ", MeasurementsText(*m));
  }
  return line;
}

}  // namespace

bool IsTerminal(v1::Job::State state) {
  return state == v1::Job::SUCCEEDED || state == v1::Job::FAILED ||
         state == v1::Job::CANCELLED;
}

std::string ProgressBar(int64_t done, int64_t total, int width) {
  const int cells = std::max(width, 3) - 2;
  int filled = 0;
  if (total > 0) {
    filled = static_cast<int>(std::clamp<int64_t>(done, 0, total) * cells / total);
  }
  return absl::StrCat("[", std::string(filled, '#'), std::string(cells - filled, '-'), "]");
}

std::string RenderProgress(const v1::Job& job, const ProgressOptions& options) {
  const v1::JobSpec& spec = job.spec();
  const v1::ResourceType type = spec.resource_type();
  std::vector<std::string> lines;

  std::string head = absl::StrCat(job.name(), "  ", ModelDescription(spec));
  if (!spec.dataset().empty()) absl::StrAppend(&head, " on ", spec.dataset());
  absl::StrAppend(&head, "  ", JobStateName(job.state()));
  if (job.phase() != v1::Job::PHASE_UNSPECIFIED) absl::StrAppend(&head, " / ", PhaseName(job.phase()));
  if (job.create_time().seconds() > 0) {
    absl::StrAppend(&head, "  elapsed ", HumanDuration(options.now - ToTime(job.create_time())));
  }
  lines.push_back(head);
  if (!job.reason().empty()) lines.push_back(absl::StrCat("reason: ", job.reason()));
  if (!job.activity().empty()) {
    std::string activity = job.activity();
    if (job.activity_total() > 0) {
      absl::StrAppend(&activity, "  ", ProgressBar(job.activity_step(), job.activity_total(), 22),
                      " ", job.activity_step(), "/", job.activity_total());
    }
    lines.push_back(activity);
  }

  std::string iteration = absl::StrCat("iteration ", job.current_iteration(), "/", MaxIters(spec));
  if (job.current_target() > 0) {
    absl::StrAppend(&iteration, "  target ", FormatResource(job.current_target(), type));
  }
  if (job.budget() > 0) absl::StrAppend(&iteration, "  budget ", FormatResource(job.budget(), type));
  lines.push_back(iteration);

  const v1::ModelResult* latest = Latest(job);
  if (latest != nullptr) {
    // Progress toward the budget: the share of (seed - budget) removed so far.
    std::string resource = "resource  ";
    const double seed = SeedResource(job);
    if (seed > 0 && job.budget() > 0 && seed > job.budget()) {
      const double done = std::clamp((seed - latest->resource()) / (seed - job.budget()), 0.0, 1.0);
      absl::StrAppend(&resource, ProgressBar(static_cast<int64_t>(done * 1000), 1000, 22), " ");
    }
    absl::StrAppend(&resource, seed > 0 ? FormatResource(seed, type) : "?", " -> ",
                    FormatResource(latest->resource(), type));
    if (job.budget() > 0) absl::StrAppend(&resource, " (budget ", FormatResource(job.budget(), type), ")");
    lines.push_back(resource);
    lines.push_back(absl::StrCat("accuracy  seed ", FormatPercent(job.seed().accuracy()), " -> ",
                                 FormatPercent(latest->accuracy()), " (held-out)"));
  }
  if (const std::string text = SeedVsFinalText(job); !text.empty()) {
    lines.push_back(absl::StrCat("test split  ", text));
  }
  if (const std::string text = AdaptedVsUniformText(job); !text.empty()) {
    lines.push_back(absl::StrCat("adapted vs uniform ", AtEqualResource(type), ", test split: ",
                                 text));
  } else if (const std::string uniform = UniformBaselineText(job); !uniform.empty()) {
    lines.push_back(absl::StrCat("uniform baseline  ", uniform));
  }
  if (job.history_size() > 0) {
    double total = 0;
    for (const v1::Iteration& it : job.history()) total += it.duration_seconds();
    const v1::Iteration& last = job.history(job.history_size() - 1);
    std::string timing = absl::StrCat("time/iteration  last ",
                                      HumanDuration(absl::Seconds(last.duration_seconds())),
                                      "  mean ",
                                      HumanDuration(absl::Seconds(total / job.history_size())));
    lines.push_back(timing);
  }

  const std::vector<const v1::Proposal*> proposals = ByBlock(job);
  if (!proposals.empty()) {
    lines.push_back(absl::StrCat("proposals of iteration ", job.current_iteration(), ":"));
    size_t label_width = 0;
    for (const v1::Proposal* p : proposals) label_width = std::max(label_width, BlockLabel(*p).size());
    for (const v1::Proposal* p : proposals) {
      std::string label = BlockLabel(*p);
      label.resize(label_width, ' ');
      std::string state = ProposalStateName(p->state());
      state.resize(std::max<size_t>(state.size(), 14), ' ');
      std::string line = absl::StrCat("  ", label, "  ", state);
      if (p->total_steps() > 0 && (p->state() == v1::Proposal::FINE_TUNING || p->step() > 0)) {
        absl::StrAppend(&line, "  ", ProgressBar(p->step(), p->total_steps(), 22), " ", p->step(),
                        "/", p->total_steps());
      }
      if (p->width() > 0) absl::StrAppend(&line, "  width ", p->width());
      if (p->resource() > 0) absl::StrAppend(&line, "  ", FormatResource(p->resource(), type));
      if (p->accuracy() > 0) absl::StrAppend(&line, "  acc ", FormatPercent(p->accuracy()));
      if (!p->worker().empty()) absl::StrAppend(&line, "  on ", p->worker());
      if (p->attempts() > 1) absl::StrAppend(&line, "  attempt ", p->attempts());
      if (!p->error().empty()) absl::StrAppend(&line, "  error: ", p->error());
      lines.push_back(line);
    }
  }

  // The last few iterations: enough to see the trend without flooding the screen.
  constexpr int kShownIterations = 5;
  if (job.history_size() > 0) {
    lines.push_back("recent iterations:");
    for (int i = std::max(0, job.history_size() - kShownIterations); i < job.history_size(); ++i) {
      const v1::Iteration& it = job.history(i);
      std::string line = absl::StrFormat("  %3d  block %d", it.iteration(), it.chosen_block());
      if (!it.chosen_layer().empty()) absl::StrAppend(&line, " (", it.chosen_layer(), ")");
      absl::StrAppend(&line, "  ", FormatResource(it.result().resource(), type), "  acc ",
                      FormatPercent(it.result().accuracy()), "  ",
                      HumanDuration(absl::Seconds(it.duration_seconds())));
      lines.push_back(line);
    }
  }

  std::string frame;
  for (std::string& line : lines) absl::StrAppend(&frame, Fit(std::move(line), options.width), "\n");
  return frame;
}

std::string RedrawPrefix(int lines) {
  if (lines <= 0) return "";
  // CSI n F: cursor to the start of the line n lines up; CSI J: clear to the end of screen.
  return absl::StrCat("\x1b[", lines, "F\x1b[J");
}

int LineCount(const std::string& frame) {
  return static_cast<int>(std::count(frame.begin(), frame.end(), '\n'));
}

std::vector<std::string> ChangeLines(const v1::Job* previous, const v1::Job& current) {
  std::vector<std::string> lines;
  const v1::ResourceType type = current.spec().resource_type();
  const std::string& name = current.name();
  if (previous == nullptr) {
    std::string line = absl::StrCat(name, ": ", JobStateName(current.state()));
    if (current.phase() != v1::Job::PHASE_UNSPECIFIED) {
      absl::StrAppend(&line, ", phase ", PhaseName(current.phase()));
    }
    absl::StrAppend(&line, ", iteration ", current.current_iteration(), "/",
                    MaxIters(current.spec()));
    if (const v1::ModelResult* latest = Latest(current)) {
      absl::StrAppend(&line, ", resource ", FormatResource(latest->resource(), type),
                      ", accuracy ", FormatPercent(latest->accuracy()));
    }
    lines.push_back(line);
  } else {
    if (previous->state() != current.state()) {
      lines.push_back(absl::StrCat(name, ": state ", JobStateName(previous->state()), " -> ",
                                   JobStateName(current.state())));
    }
    if (previous->phase() != current.phase()) {
      lines.push_back(absl::StrCat(name, ": phase ", PhaseName(current.phase())));
    }
    if (!current.activity().empty()) {
      // A new activity, or its progress crossing a quarter.
      const auto quarter = [](const v1::Job& j) {
        return j.activity_total() > 0 ? 4 * j.activity_step() / j.activity_total() : -1;
      };
      if (previous->activity() != current.activity()) {
        lines.push_back(absl::StrCat(name, ": ", current.activity()));
      } else if (quarter(*previous) != quarter(current) && current.activity_total() > 0) {
        lines.push_back(absl::StrCat(name, ": ", current.activity(), " ", current.activity_step(),
                                     "/", current.activity_total()));
      }
    }
    if (current.seed().resource() > 0 && previous->seed().resource() <= 0) {
      lines.push_back(absl::StrCat("seed: resource ", FormatResource(current.seed().resource(), type),
                                   ", accuracy ", FormatPercent(current.seed().accuracy()),
                                   current.budget() > 0
                                       ? absl::StrCat(", budget ", FormatResource(current.budget(), type))
                                       : ""));
    }
    for (int i = previous->history_size(); i < current.history_size(); ++i) {
      lines.push_back(IterationLine(current.history(i), current));
    }
    if (current.skipped_files_size() > previous->skipped_files_size()) {
      lines.push_back(absl::StrCat("skipped: ", SkippedFilesText(current)));
    }
  }
  const bool new_iteration =
      previous == nullptr || previous->current_iteration() != current.current_iteration();
  if (previous != nullptr && new_iteration && current.current_iteration() > 0 &&
      !IsTerminal(current.state())) {
    std::string line = absl::StrCat("iteration ", current.current_iteration(), "/",
                                    MaxIters(current.spec()), " started");
    if (current.current_target() > 0) {
      absl::StrAppend(&line, ": target ", FormatResource(current.current_target(), type));
    }
    lines.push_back(line);
  }
  // Proposals: compared with the previous message's proposals of the same iteration.
  std::map<int, const v1::Proposal*> before;
  if (previous != nullptr && !new_iteration) {
    for (const v1::Proposal& p : previous->proposals()) before[p.block()] = &p;
  }
  for (const v1::Proposal* p : ByBlock(current)) {
    const auto it = before.find(p->block());
    const v1::Proposal* old = it == before.end() ? nullptr : it->second;
    const std::string prefix =
        absl::StrCat("iteration ", current.current_iteration(), " ", BlockLabel(*p), ": ");
    if (old == nullptr || old->state() != p->state()) {
      std::string line = absl::StrCat(prefix, ProposalStateName(p->state()));
      if (p->state() == v1::Proposal::SUCCEEDED) {
        absl::StrAppend(&line, ", width ", p->width(), ", resource ",
                        FormatResource(p->resource(), type), ", accuracy ",
                        FormatPercent(p->accuracy()));
      }
      if (!p->worker().empty() && p->state() != v1::Proposal::SUCCEEDED) {
        absl::StrAppend(&line, " on ", p->worker());
      }
      if (!p->error().empty()) absl::StrAppend(&line, ": ", p->error());
      lines.push_back(line);
    } else if (p->state() == v1::Proposal::FINE_TUNING && Quarter(*p) > Quarter(*old)) {
      lines.push_back(absl::StrCat(prefix, "fine-tuning ", p->step(), "/", p->total_steps()));
    }
  }
  // A pause (the master's disk is full) and its end.
  if (previous != nullptr && previous->state() != current.state()) {
    if (current.state() == v1::Job::PAUSED) {
      lines.push_back(absl::StrCat(name, ": PAUSED: ", current.reason()));
    } else if (previous->state() == v1::Job::PAUSED && !IsTerminal(current.state())) {
      lines.push_back(absl::StrCat(name, ": resumed"));
    }
  }
  if (IsTerminal(current.state()) && (previous == nullptr || !IsTerminal(previous->state()))) {
    std::string line = absl::StrCat(name, ": ", JobStateName(current.state()));
    if (!current.reason().empty()) absl::StrAppend(&line, ": ", current.reason());
    if (current.state() == v1::Job::SUCCEEDED) {
      const v1::ModelResult& result =
          current.final().resource() > 0 || current.final().accuracy() > 0
              ? current.final()
              : (Latest(current) != nullptr ? *Latest(current) : current.final());
      const bool final_result = &result == &current.final();
      absl::StrAppend(&line, ", resource ", FormatResource(result.resource(), type),
                      ", accuracy ", FormatPercent(result.accuracy()),
                      final_result ? " test" : " held-out");
    }
    lines.push_back(line);
    if (current.state() == v1::Job::SUCCEEDED) {
      if (const std::string text = SeedVsFinalText(current); !text.empty()) {
        lines.push_back(absl::StrCat(name, ": test split: ", text));
      }
      if (const std::string text = AdaptedVsUniformText(current); !text.empty()) {
        lines.push_back(
            absl::StrCat(name, ": adapted vs uniform ", AtEqualResource(type), ", test split: ",
                         text));
      } else if (const std::string uniform = UniformBaselineText(current); !uniform.empty()) {
        lines.push_back(absl::StrCat(name, ": uniform baseline ", uniform));
      }
    }
  }
  return lines;
}

}  // namespace netadapt::cli
