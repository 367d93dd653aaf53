// report: a job as a self-contained HTML page (cli/report.h).
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/job_spec_builder.h"
#include "cli/report.h"
#include "common/file_util.h"

namespace netadapt::cli {

int RunReport(CommandContext& ctx, const ReportCommandOptions& options) {
  if (options.output_file.empty()) {
    return ctx.Fail(absl::InvalidArgumentError("-o/--output-file is required"));
  }
  absl::StatusOr<std::string> name = ParseJobName(options.job);
  if (!name.ok()) return ctx.Fail(name.status());
  absl::StatusOr<v1::Job> job = ctx.client().GetJob(*name);
  if (!job.ok()) return ctx.Fail(job.status());
  ReportOptions report;
  report.generated = absl::Now();
  report.zone = absl::LocalTimeZone();
  const std::string html = RenderReportHtml(*job, report);
  if (options.output_file == "-") {
    ctx.out() << html << std::flush;
    return kExitOk;
  }
  if (absl::Status written = common::WriteFileAtomically(options.output_file, html);
      !written.ok()) {
    return ctx.Fail(LocalFileError(absl::StrCat("-o ", options.output_file), written));
  }
  ctx.out() << "wrote " << options.output_file << ": report of " << job->name() << " ("
            << JobStateName(job->state()) << ", " << job->history_size() << " iterations, "
            << html.size() << " bytes)" << std::endl;
  return kExitOk;
}

}  // namespace netadapt::cli
