#pragma once

// The listening and credential flags every server binary shares (--host, --insecure, --port,
// --port_file, --reflection, --token_file, --tls_cert, --tls_key, --tls_ca), defined once
// here and turned into ServerOptions by one function. The flags themselves are defined in each
// binary's main.cc by NETADAPT_SERVER_FLAGS (libraries never read flags, STYLE.md section 2),
// with the help texts that differ by role passed in.

#include <string>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "common/rpc/auth.h"
#include "common/rpc/server.h"

// Defines the shared server flags in a main.cc, at global scope. `default_port` is --port's
// default; the three texts are the help of --token_file (whose token the callers present),
// --tls_cert ("PEM certificate chain of this <role>: serve TLS.") and --tls_ca.
#define NETADAPT_SERVER_FLAGS(default_port, token_file_help, tls_cert_help, tls_ca_help)    \
  ABSL_FLAG(std::string, host, "127.0.0.1",                                                 \
            "Address to listen on: loopback by default; 0.0.0.0 (all interfaces) needs "     \
            "--token_file or --insecure.");                                                  \
  ABSL_FLAG(bool, insecure, false,                                                          \
            "Allow listening on a non-loopback --host without authentication (no "           \
            "--token_file, no client certificates): anyone who can reach the port may call " \
            "every service.");                                                               \
  ABSL_FLAG(int, port, default_port, "Port to listen on; 0 picks a free one (see --port_file)."); \
  ABSL_FLAG(std::string, port_file, "", "Write the bound port to this file once serving.");  \
  ABSL_FLAG(bool, reflection, true, "Serve gRPC server reflection.");                       \
  ABSL_FLAG(std::string, token_file, "", token_file_help);                                  \
  ABSL_FLAG(std::string, tls_cert, "", tls_cert_help);                                      \
  ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");                    \
  ABSL_FLAG(std::string, tls_ca, "", tls_ca_help)

// The values of the flags NETADAPT_SERVER_FLAGS defined, as a ServerFlags (in the same file).
#define NETADAPT_SERVER_FLAG_VALUES()                                                       \
  (::netadapt::rpc::ServerFlags{                                                            \
      absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_insecure), absl::GetFlag(FLAGS_port),  \
      absl::GetFlag(FLAGS_port_file), absl::GetFlag(FLAGS_reflection),                      \
      ::netadapt::rpc::CredentialFiles{absl::GetFlag(FLAGS_token_file),                     \
                                       absl::GetFlag(FLAGS_tls_cert),                       \
                                       absl::GetFlag(FLAGS_tls_key),                        \
                                       absl::GetFlag(FLAGS_tls_ca)}})

namespace netadapt::rpc {

// The values of the shared server flags.
struct ServerFlags {
  std::string host;
  bool insecure = false;
  int port = 0;
  std::string port_file;
  bool reflection = true;
  CredentialFiles credentials;
};

// The server's options from its flags: address host:port, the port file, reflection,
// --insecure and the server security of the credential files (LoadServerSecurity: the
// cluster token, TLS, mTLS; its errors, which name the flag). The other fields keep their
// defaults. A binary that also calls out loads its client side with
// LoadClientSecurity(flags.credentials).
absl::StatusOr<ServerOptions> ServerOptionsFromFlags(const ServerFlags& flags);

}  // namespace netadapt::rpc
