// get, list, cancel, workers.
#include <ostream>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/job_format.h"
#include "cli/job_spec_builder.h"

namespace netadapt::cli {

int RunGet(CommandContext& ctx, absl::string_view job) {
  absl::StatusOr<std::string> name = ParseJobName(job);
  if (!name.ok()) return ctx.Fail(name.status());
  absl::StatusOr<v1::Job> result = ctx.client().GetJob(*name);
  if (!result.ok()) return ctx.Fail(result.status());
  if (ctx.options().output == OutputFormat::kJson) return ctx.PrintJson(*result);
  ctx.out() << FormatJobDetails(*result, ctx.format_options()) << std::flush;
  return kExitOk;
}

int RunList(CommandContext& ctx, int limit) {
  if (limit < 0) return ctx.Fail(absl::InvalidArgumentError("--limit must not be negative"));
  absl::StatusOr<std::vector<v1::Job>> jobs = ctx.client().ListJobs(limit);
  if (!jobs.ok()) return ctx.Fail(jobs.status());
  if (ctx.options().output == OutputFormat::kJson) {
    // Every page merged into one response (no next_page_token).
    v1::ListJobsResponse response;
    for (v1::Job& job : *jobs) *response.add_jobs() = std::move(job);
    return ctx.PrintJson(response);
  }
  ctx.out() << FormatJobList(*jobs, ctx.format_options()) << std::flush;
  return kExitOk;
}

int RunCancel(CommandContext& ctx, absl::string_view job) {
  absl::StatusOr<std::string> name = ParseJobName(job);
  if (!name.ok()) return ctx.Fail(name.status());
  absl::StatusOr<v1::Job> result = ctx.client().CancelJob(*name);
  if (!result.ok()) return ctx.Fail(result.status());
  if (ctx.options().output == OutputFormat::kJson) return ctx.PrintJson(*result);
  if (result->state() == v1::Job::CANCELLED) {
    ctx.out() << "cancelled " << result->name() << std::endl;
  } else {
    // The master stops the running tasks; the job ends CANCELLED soon after.
    ctx.out() << "cancelling " << result->name() << " (state "
              << JobStateName(result->state()) << ")" << std::endl;
  }
  return kExitOk;
}

int RunWorkers(CommandContext& ctx) {
  absl::StatusOr<std::vector<v1::Worker>> workers = ctx.client().ListWorkers();
  if (!workers.ok()) return ctx.Fail(workers.status());
  if (ctx.options().output == OutputFormat::kJson) {
    v1::ListWorkersResponse response;
    for (v1::Worker& worker : *workers) *response.add_workers() = std::move(worker);
    return ctx.PrintJson(response);
  }
  ctx.out() << FormatWorkerList(*workers, ctx.format_options()) << std::flush;
  return kExitOk;
}

}  // namespace netadapt::cli
