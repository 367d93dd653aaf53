// watch: follows WatchJob, reconnecting with backoff when the stream breaks.
#include <algorithm>
#include <ostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/job_format.h"
#include "cli/progress.h"
#include "common/backoff.h"

namespace netadapt::cli {
namespace {

// Prints each update in the chosen form.
class WatchPrinter {
 public:
  WatchPrinter(CommandContext& ctx, ProgressMode mode) : ctx_(ctx) {
    json_ = ctx.options().output == OutputFormat::kJson;
    live_ = !json_ && (mode == ProgressMode::kLive ||
                       (mode == ProgressMode::kAuto && ctx.out_is_tty()));
  }

  void Print(const v1::Job& job) {
    if (json_) {
      // One compact JSON object per line (NDJSON), for `jq` and friends.
      absl::StatusOr<std::string> json = ToJson(job, /*pretty=*/false);
      if (json.ok()) ctx_.out() << *json << std::flush;
    } else if (live_) {
      ProgressOptions options;
      options.width = ctx_.terminal_width();
      options.now = absl::Now();
      const std::string frame = RenderProgress(job, options);
      ctx_.out() << RedrawPrefix(frame_lines_) << frame << std::flush;
      frame_lines_ = LineCount(frame);
    } else {
      for (const std::string& line : ChangeLines(has_previous_ ? &previous_ : nullptr, job)) {
        ctx_.out() << line << "\n";
      }
      ctx_.out() << std::flush;
    }
    previous_ = job;
    has_previous_ = true;
  }

  // A note on stderr (reconnecting); the live frame is then drawn anew below it.
  void Note(const std::string& text) {
    ctx_.err() << text << std::endl;
    frame_lines_ = 0;
  }

 private:
  CommandContext& ctx_;
  bool json_ = false;
  bool live_ = false;
  int frame_lines_ = 0;
  v1::Job previous_;
  bool has_previous_ = false;
};

}  // namespace

int RunWatch(CommandContext& ctx, const WatchOptions& options) {
  absl::StatusOr<std::string> name = ParseJobName(options.job);
  if (!name.ok()) return ctx.Fail(name.status());
  WatchPrinter printer(ctx, options.progress);
  v1::Job last;
  bool received = false;
  absl::Time last_contact = absl::Now();
  // Full jitter (common/backoff.h): the watchers a master restart cut off together do not all
  // reconnect at the same instant.
  std::mt19937_64 random(std::random_device{}());
  int retry = 0;
  // Never notified: waiting on it is a sleep that a future Ctrl-C handler could cut short.
  absl::Notification stop;
  while (true) {
    const absl::Status status = ctx.client().WatchJob(*name, [&](const v1::Job& job) {
      printer.Print(job);
      last = job;
      received = true;
      last_contact = absl::Now();
      retry = 0;
      // The master ends the stream after a terminal state; do not wait for it.
      return !IsTerminal(job.state());
    });
    if (received && IsTerminal(last.state())) break;
    // Before the first message, the master is unreachable or refuses the job: report it.
    // After, UNAVAILABLE (or an OK end without a terminal state: the master went away
    // gracefully) is a broken stream to resume.
    if (!received || (!status.ok() && status.code() != absl::StatusCode::kUnavailable)) {
      return ctx.Fail(status.ok() ? absl::UnavailableError("the watch ended without an update")
                                  : status);
    }
    if (absl::Now() - last_contact > options.reconnect_for) {
      return ctx.Fail(absl::UnavailableError(
          absl::StrCat("lost the watch of ", *name, " for more than ",
                       HumanDuration(options.reconnect_for), ": ", status.message())));
    }
    const absl::Duration backoff = common::FullJitterBackoff(
        options.initial_backoff, options.max_backoff, 2.0, retry++, random);
    printer.Note(absl::StrCat("watch of ", *name, " interrupted (",
                              status.ok() ? "stream ended" : std::string(status.message()),
                              "); reconnecting in ", HumanDuration(backoff)));
    stop.WaitForNotificationWithTimeout(backoff);
  }

  if (last.state() == v1::Job::SUCCEEDED) return kExitOk;
  ctx.err() << "error: " << last.name() << " " << JobStateName(last.state())
            << (last.reason().empty() ? "" : absl::StrCat(": ", last.reason())) << std::endl;
  return kExitJobFailed;
}

}  // namespace netadapt::cli
