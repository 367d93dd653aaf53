#include "cli/command_context.h"

#include <grpcpp/channel.h>

#include <ostream>

#include "cli/errors.h"
#include "common/rpc/channel.h"

namespace netadapt::cli {

CommandContext::CommandContext(GlobalOptions options, std::ostream& out, std::ostream& err,
                               bool out_is_tty, int terminal_width)
    : options_(std::move(options)),
      out_(out),
      err_(err),
      out_is_tty_(out_is_tty),
      terminal_width_(terminal_width) {}

CommandContext::~CommandContext() = default;

FormatOptions CommandContext::format_options() const {
  FormatOptions format;
  format.zone = absl::LocalTimeZone();
  format.now = absl::Now();
  return format;
}

JobClient& CommandContext::client() {
  if (client_ == nullptr) {
    channel_ = rpc::MakeChannel(options_.master, channel_options());
    stub_ = v1::JobService::NewStub(channel_);
    JobClientOptions client_options;
    client_options.timeout = options_.timeout;
    client_options.transfer_timeout = options_.transfer_timeout;
    client_ = std::make_unique<JobClient>(stub_.get(), client_options);
  }
  return *client_;
}

rpc::ChannelOptions CommandContext::channel_options() const {
  rpc::ChannelOptions options;
  options.security = options_.security;
  return options;
}

int CommandContext::Fail(const absl::Status& status) {
  err_ << FormatError(status, options_.master) << std::endl;
  return ExitCodeForStatus(status);
}

int CommandContext::PrintJson(const google::protobuf::Message& message) {
  absl::StatusOr<std::string> json = ToJson(message);
  if (!json.ok()) return Fail(json.status());
  out_ << *json << std::flush;
  return kExitOk;
}

}  // namespace netadapt::cli
