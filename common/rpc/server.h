#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/rpc/auth.h"

namespace grpc {
class Channel;
class Server;
class Service;
}  // namespace grpc

namespace netadapt::rpc {

struct ServerOptions {
  // host:port to listen on; port 0 picks a free one (see RpcServer::port()). Loopback by
  // default: a server reachable from other hosts must authenticate its callers (below).
  std::string address = "127.0.0.1:0";
  // When set, the bound port is written there (atomically, "<port>\n") once the server runs,
  // so tests and scripts can start a server on port 0 and find it.
  std::string port_file;
  // gRPC server reflection (grpc_cli, grpcurl).
  bool reflection = true;
  // Server-side keepalive pings, and the fastest client pings accepted.
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  absl::Duration min_client_ping_interval = absl::Seconds(10);
  int max_message_bytes = 64 << 20;
  // Who may call (bearer tokens and their roles) and TLS; default: everyone, plaintext. The
  // check runs before any handler (auth.h). Health and reflection stay open.
  ServerSecurity security;
  // Allows a non-loopback address without authentication (no bearer token, no client
  // certificates). Off: Start refuses such a server, since anyone who can reach the port could
  // create jobs, run tasks and write artifacts to disk (Ray's CVE-2023-48022 is the lesson).
  bool insecure = false;
};

// Whether `address` (host:port, [v6]:port) listens on loopback only: 127.0.0.0/8, ::1 or
// localhost.
bool IsLoopbackAddress(absl::string_view address);

// A started gRPC server with the project's standard setup: the gRPC health service
// (grpc.health.v1.Health, overall status SERVING until Shutdown), reflection when enabled,
// keepalive, message size limits, the bound port reported. Services are not owned and must
// outlive the server. Thread-safe.
class RpcServer {
 public:
  // Starts serving `services` per `options`. FailedPrecondition for a non-loopback address
  // without authentication unless options.insecure, naming the flags that fix it; Unavailable
  // when the address cannot be bound; the port file's write error otherwise.
  static absl::StatusOr<std::unique_ptr<RpcServer>> Start(
      const ServerOptions& options, const std::vector<grpc::Service*>& services);

  ~RpcServer();  // Shutdown(absl::ZeroDuration()) unless already shut down

  // The port the server listens on (the chosen one when options.address had port 0).
  int port() const { return port_; }
  grpc::Server* server() { return server_.get(); }
  // A channel to this server that bypasses the network (tests). It bypasses authentication
  // too: gRPC runs the token check on network ports only, and this channel exists only in the
  // server's own process.
  std::shared_ptr<grpc::Channel> InProcessChannel();

  // Stops accepting calls, marks health NOT_SERVING, lets in-flight calls finish for up to
  // `grace`, then cancels the rest, and waits until every call is done. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  RpcServer(std::unique_ptr<grpc::Server> server, int port);

  std::unique_ptr<grpc::Server> server_;
  const int port_;
  bool shut_down_ = false;
};

// Blocks SIGINT and SIGTERM in the calling thread and in threads it creates afterwards, so
// that WaitForTerminationSignal receives them. Call first thing in main, before any thread
// (gRPC's included) starts.
void BlockTerminationSignals();

// Waits for SIGINT or SIGTERM (blocked by BlockTerminationSignals) for at most `timeout`;
// the signal number, or nullopt on timeout.
std::optional<int> WaitForTerminationSignal(absl::Duration timeout = absl::InfiniteDuration());

}  // namespace netadapt::rpc
