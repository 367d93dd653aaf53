#include "common/rpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/rpc/auth.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace netadapt::rpc {
namespace {

// Switches the reflection service on or off for one builder. Linking grpc++_reflection
// registers its plugin for every ServerBuilder of the process (a static initializer in
// proto_server_reflection_plugin.cc), so "off" must remove it and "on" adds it only when
// missing (a second copy fails with "duplicate registration").
class ReflectionOption final : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    auto is_reflection = [](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
      return plugin->name() == kReflectionPlugin;
    };
    const bool present = std::any_of(plugins->begin(), plugins->end(), is_reflection);
    if (!enabled_) {
      plugins->erase(std::remove_if(plugins->begin(), plugins->end(), is_reflection),
                     plugins->end());
    } else if (!present) {
      plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
    }
  }

 private:
  static constexpr char kReflectionPlugin[] = "proto_server_reflection";
  const bool enabled_;
};

int Milliseconds(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

bool IsLoopbackAddress(absl::string_view address) {
  absl::string_view host = address;
  if (absl::ConsumePrefix(&host, "[")) {
    host = host.substr(0, host.find(']'));
  } else if (const size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::StatusOr<std::unique_ptr<RpcServer>> RpcServer::Start(
    const ServerOptions& options, const std::vector<grpc::Service*>& services) {
  const bool authenticated =
      !options.security.tokens.empty() || !options.security.tls_client_ca_pem.empty();
  if (!authenticated && !options.insecure && !IsLoopbackAddress(options.address)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to listen on ", options.address,
        " without authentication: anyone who can reach it could call every service. Give "
        "--token_file (docs/SECURITY.md), listen on loopback (--host=127.0.0.1), or pass "
        "--insecure to accept the risk"));
  }
  // Process-wide, but harmless to repeat: every server of ours has the health service.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  NETADAPT_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                            MakeServerCredentials(options.security));
  builder.AddListeningPort(options.address, credentials, &port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  builder.SetOption(std::make_unique<ReflectionOption>(options.reflection));
  // gRPC binds with SO_REUSEPORT by default, and the kernel then may hand port 0 out again to
  // another socket of the same user that also asked for reuse: two servers on one port, each
  // answering a share of the other's calls (UNIMPLEMENTED for the wrong service). Seen with
  // tests running side by side; a server owns its port exclusively.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Milliseconds(options.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             Milliseconds(options.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             Milliseconds(options.min_client_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address));
  }
  std::unique_ptr<RpcServer> result(new RpcServer(std::move(server), port));
  if (!options.port_file.empty()) {
    NETADAPT_RETURN_IF_ERROR(
        common::WriteFileAtomically(options.port_file, absl::StrCat(port, "\n")));
  }
  const ServerSecurity& security = options.security;
  common::Logger("rpc")->info(
      "listening on {} (port {}), reflection {}, {}, {}", options.address, port,
      options.reflection ? "on" : "off",
      security.tls() ? (security.tls_client_ca_pem.empty() ? "TLS" : "mutual TLS") : "plaintext",
      security.tokens.empty() ? "no authentication"
                              : absl::StrCat(security.tokens.size(), " bearer token(s)"));
  return result;
}

RpcServer::RpcServer(std::unique_ptr<grpc::Server> server, int port)
    : server_(std::move(server)), port_(port) {}

RpcServer::~RpcServer() { Shutdown(absl::ZeroDuration()); }

std::shared_ptr<grpc::Channel> RpcServer::InProcessChannel() {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

void RpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  common::Logger("rpc")->info("server on port {} stopped", port_);
}

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::optional<int> WaitForTerminationSignal(absl::Duration timeout) {
  sigset_t set = TerminationSignals();
  while (true) {
    int signal = 0;
    if (timeout == absl::InfiniteDuration()) {
      if (sigwait(&set, &signal) == 0) return signal;
      continue;
    }
    const timespec ts = absl::ToTimespec(timeout);
    signal = sigtimedwait(&set, nullptr, &ts);
    if (signal > 0) return signal;
    if (errno == EINTR) continue;
    return std::nullopt;  // EAGAIN: timed out
  }
}

}  // namespace netadapt::rpc
