#pragma once
// Authentication of every RPC of the project, in one place (docs/SECURITY.md):
//   - clients attach `authorization: Bearer <token>` to every call (MakeChannel, channel.h);
//   - servers check it in gRPC's core, before a call reaches any handler (RpcServer, server.h),
//     so a refused call has no side effect: UNAUTHENTICATED for a missing or unknown token,
//     PERMISSION_DENIED for a known token whose role may not call the service;
//   - TLS, and mutual TLS, from PEM files.
// grpc.health.v1.Health and server reflection are open to everyone.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace grpc {
class ChannelCredentials;
class ServerCredentials;
namespace experimental {
class ClientInterceptorFactoryInterface;
}  // namespace experimental
}  // namespace grpc

namespace netadapt::rpc {

// Roles a token can prove. Every process of a cluster shares the cluster token; only the master
// holds the master token, which is all a worker's WorkerService accepts (docs/SECURITY.md).
inline constexpr char kClusterRole[] = "cluster";
inline constexpr char kMasterRole[] = "master";

// What a server demands of its callers. Default: nothing (plaintext, no token), as before.
struct ServerSecurity {
  struct Token {
    std::string role;
    std::string token;
  };
  // Bearer tokens accepted, each with the role it proves. Empty: calls are not authenticated.
  std::vector<Token> tokens;
  // Full service name ("netadapt.v1.WorkerService") -> the roles that may call it. Services not
  // listed accept every role of `tokens`.
  std::map<std::string, std::vector<std::string>> service_roles;
  // PEM certificate chain and private key of the server: both set = TLS.
  std::string tls_cert_chain_pem;
  std::string tls_private_key_pem;
  // PEM CA certificates: with TLS, clients must present a certificate signed by one (mTLS).
  std::string tls_client_ca_pem;

  bool tls() const { return !tls_cert_chain_pem.empty(); }
  bool enabled() const { return !tokens.empty() || tls(); }
};

// What a client presents. Default: nothing (plaintext, no token).
struct ClientSecurity {
  // Sent as `authorization: Bearer <token>` on every call; empty = none.
  std::string token;
  // PEM CA certificates verifying the server: set = TLS.
  std::string tls_root_certs_pem;
  // PEM client certificate chain and key, for servers that require mTLS.
  std::string tls_cert_chain_pem;
  std::string tls_private_key_pem;

  bool tls() const { return !tls_root_certs_pem.empty(); }
};

// The credential files a binary's flags name (docs/SECURITY.md lists the flags).
struct CredentialFiles {
  std::string token_file;  // --token_file: the cluster token
  std::string tls_cert;    // --tls_cert: this process's certificate chain (PEM)
  std::string tls_key;     // --tls_key: its private key (PEM)
  std::string tls_ca;      // --tls_ca: CA verifying peers (PEM)
};

// Reads a token file: its content without surrounding whitespace. InvalidArgument when it is
// empty or holds characters a gRPC header cannot carry (only printable ASCII without spaces);
// the file's read error (NotFound, ...) otherwise. Error messages never contain the token.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// The client side of `files`: the token (when token_file is set), TLS when tls_ca is set, a
// client certificate when tls_cert and tls_key are. Errors name the flag's file.
absl::StatusOr<ClientSecurity> LoadClientSecurity(const CredentialFiles& files);

// The security of a server from its flags: the cluster token of `files.token_file` (when set)
// and its TLS (LoadServerTls). Errors name the flag.
absl::StatusOr<ServerSecurity> LoadServerSecurity(const CredentialFiles& files);

// Adds the server TLS of `files` to `security`: TLS when tls_cert and tls_key are set (both or
// neither: InvalidArgument), mTLS when tls_ca is set too.
absl::Status LoadServerTls(const CredentialFiles& files, ServerSecurity& security);

// The authorization decision for one call to `method` ("/pkg.Service/Method") bearing the
// `authorization` header value `authorization` (nullopt: absent). OK; Unauthenticated for a
// missing, malformed or unknown token; PermissionDenied for a known token whose role may not
// call the service. Health checks and reflection are always OK. Tokens are compared in
// constant time. Thread-safe (reads `security` only).
absl::Status Authorize(const ServerSecurity& security, absl::string_view method,
                       std::optional<absl::string_view> authorization);

// Compares without data-dependent early exit (the SHA-256 of both, so the time does not reveal
// the length either).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// The server credentials that enforce `security`: the check runs in gRPC's auth filter (an
// AuthMetadataProcessor) before the call is handed to the service. Plaintext or TLS per
// `security`. For RpcServer; `security` is copied. InvalidArgument when gRPC refuses the TLS
// material.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurity& security);

// The channel credentials of `security`: TLS or plaintext (the token travels in an interceptor,
// see MakeClientInterceptors, so that it is sent over plaintext too).
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const ClientSecurity& security);

// The interceptors that attach `security.token` to every call (none when it is empty).
std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
MakeClientInterceptors(const ClientSecurity& security);

}  // namespace netadapt::rpc
