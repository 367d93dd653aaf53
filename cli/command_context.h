#pragma once

#include <iosfwd>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cli/job_client.h"
#include "cli/job_format.h"
#include "common/rpc/channel.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace netadapt::cli {

enum class OutputFormat { kTable, kJson };

// The options every command takes.
struct GlobalOptions {
  // host:port of netadapt-master.
  std::string master = "127.0.0.1:50051";
  OutputFormat output = OutputFormat::kTable;
  // Deadline of each unary call.
  absl::Duration timeout = absl::Seconds(10);
  absl::Duration transfer_timeout = absl::Minutes(10);
  // The bearer token and TLS every call to the master carries (docs/SECURITY.md).
  rpc::ClientSecurity security;
};

// What a command runs with: its options, its output streams, whether stdout is a terminal,
// and the client of the master (connected on first use). Single-threaded.
class CommandContext {
 public:
  CommandContext(GlobalOptions options, std::ostream& out, std::ostream& err, bool out_is_tty,
                 int terminal_width);
  ~CommandContext();

  const GlobalOptions& options() const { return options_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  bool out_is_tty() const { return out_is_tty_; }
  int terminal_width() const { return terminal_width_; }
  // The local time zone and the current time.
  FormatOptions format_options() const;

  // The client of the master at options().master; the channel is made on first use.
  JobClient& client();
  // Options of every channel a command makes (the token and TLS of options()).
  rpc::ChannelOptions channel_options() const;

  // Prints `status` readably on err() (errors.h) and returns its exit code.
  int Fail(const absl::Status& status);
  // Prints `message` as JSON on out(); kExitOk, or Fail's code.
  int PrintJson(const google::protobuf::Message& message);

 private:
  const GlobalOptions options_;
  std::ostream& out_;
  std::ostream& err_;
  const bool out_is_tty_;
  const int terminal_width_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::StubInterface> stub_;
  std::unique_ptr<JobClient> client_;
};

}  // namespace netadapt::cli
