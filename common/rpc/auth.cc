#include "common/rpc/auth.h"

#include <grpc/grpc_security.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/client_interceptor.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace netadapt::rpc {
namespace {

constexpr absl::string_view kBearerPrefix = "Bearer ";

// Services everyone may call: load balancers and orchestrators probe health without
// credentials; reflection describes the API, nothing more (switch it off with --reflection).
bool IsOpenMethod(absl::string_view method) {
  return absl::StartsWith(method, "/grpc.health.v1.Health/") ||
         absl::StartsWith(method, "/grpc.reflection.v1alpha.ServerReflection/") ||
         absl::StartsWith(method, "/grpc.reflection.v1.ServerReflection/");
}

// "/netadapt.v1.WorkerService/Simplify" -> "netadapt.v1.WorkerService".
absl::string_view ServiceOf(absl::string_view method) {
  if (absl::StartsWith(method, "/")) method.remove_prefix(1);
  const size_t slash = method.find('/');
  return slash == absl::string_view::npos ? method : method.substr(0, slash);
}

absl::string_view SliceView(const grpc_slice& slice) {
  return absl::string_view(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)),
                           GRPC_SLICE_LENGTH(slice));
}

grpc_status_code ToGrpcCode(absl::StatusCode code) {
  return static_cast<grpc_status_code>(static_cast<int>(code));
}

// The AuthMetadataProcessor of our servers, in its C form so that it also runs on plaintext
// ports (the C++ InsecureServerCredentials cannot take a processor). It runs in gRPC's
// server auth filter, before the call is matched to a handler: a refused call never reaches
// the service. Decisions are quick and never block, so they complete inline.
void ProcessAuthMetadata(void* state, grpc_auth_context* /*context*/, const grpc_metadata* md,
                         size_t num_md, grpc_process_auth_metadata_done_cb done,
                         void* user_data) {
  const auto& security = *static_cast<const ServerSecurity*>(state);
  absl::string_view method;
  std::optional<absl::string_view> authorization;
  const grpc_metadata* consumed = nullptr;
  for (size_t i = 0; i < num_md; ++i) {
    const absl::string_view key = SliceView(md[i].key);
    if (key == ":path") {
      method = SliceView(md[i].value);
    } else if (key == "authorization") {
      authorization = SliceView(md[i].value);
      consumed = &md[i];
    }
  }
  const absl::Status status = Authorize(security, method, authorization);
  if (!status.ok()) {
    // The method and the reason, never the token.
    common::Logger("rpc")->warn("refused {}: {}", std::string(method),
                                std::string(status.message()));
    const std::string message(status.message());
    done(user_data, nullptr, 0, nullptr, 0, ToGrpcCode(status.code()), message.c_str());
    return;
  }
  // The token is consumed: handlers never see it, so it cannot leak into their logs.
  done(user_data, consumed, consumed == nullptr ? 0 : 1, nullptr, 0, GRPC_STATUS_OK, nullptr);
}

void DestroyAuthState(void* state) { delete static_cast<ServerSecurity*>(state); }

// grpc::ServerCredentials over core credentials (plaintext or TLS) with our processor.
class CheckingServerCredentials final : public grpc::ServerCredentials {
 public:
  explicit CheckingServerCredentials(grpc_server_credentials* creds, const ServerSecurity& security)
      : creds_(creds) {
    if (!security.tokens.empty()) {
      grpc_server_credentials_set_auth_metadata_processor(
          creds_, {&ProcessAuthMetadata, &DestroyAuthState, new ServerSecurity(security)});
    }
  }
  ~CheckingServerCredentials() override { grpc_server_credentials_release(creds_); }

  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {
    // The processor is MakeServerCredentials's; a second one would bypass it.
    NETADAPT_CHECK(false);
  }

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    return grpc_server_add_http2_port(server, addr.c_str(), creds_);
  }

  grpc_server_credentials* const creds_;
};

class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(std::shared_ptr<const std::string> header)
      : header_(std::move(header)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::shared_ptr<const std::string> header_;
};

class BearerTokenInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenInterceptorFactory(absl::string_view token)
      : header_(std::make_shared<const std::string>(absl::StrCat(kBearerPrefix, token))) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new BearerTokenInterceptor(header_);
  }

 private:
  const std::shared_ptr<const std::string> header_;
};

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view flag) {
  absl::StatusOr<std::string> pem = common::ReadFile(path);
  if (!pem.ok()) {
    return absl::Status(pem.status().code(), absl::StrCat(flag, ": ", pem.status().message()));
  }
  if (!absl::StrContains(*pem, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is not PEM"));
  }
  return pem;
}

}  // namespace

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> content = common::ReadFile(path);
  if (!content.ok()) {
    return absl::Status(content.status().code(),
                        absl::StrCat("token file: ", content.status().message()));
  }
  const std::string token(absl::StripAsciiWhitespace(*content));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is empty"));
  const bool printable = std::all_of(token.begin(), token.end(), [](char c) {
    return c > ' ' && c < 0x7f;  // visible ASCII: what an HTTP/2 header value may carry
  });
  if (!printable) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path, ": the token must be printable ASCII without spaces"));
  }
  return token;
}

absl::StatusOr<ClientSecurity> LoadClientSecurity(const CredentialFiles& files) {
  ClientSecurity security;
  if (!files.token_file.empty()) {
    NETADAPT_ASSIGN_OR_RETURN(security.token, ReadTokenFile(files.token_file));
  }
  if (files.tls_cert.empty() != files.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (!files.tls_ca.empty()) {
    NETADAPT_ASSIGN_OR_RETURN(security.tls_root_certs_pem, ReadPem(files.tls_ca, "--tls_ca"));
    if (!files.tls_cert.empty()) {
      NETADAPT_ASSIGN_OR_RETURN(security.tls_cert_chain_pem,
                                ReadPem(files.tls_cert, "--tls_cert"));
      NETADAPT_ASSIGN_OR_RETURN(security.tls_private_key_pem, ReadPem(files.tls_key, "--tls_key"));
    }
  }
  return security;
}

absl::StatusOr<ServerSecurity> LoadServerSecurity(const CredentialFiles& files) {
  ServerSecurity security;
  if (!files.token_file.empty()) {
    NETADAPT_ASSIGN_OR_RETURN(std::string token, ReadTokenFile(files.token_file));
    security.tokens.push_back({kClusterRole, std::move(token)});
  }
  NETADAPT_RETURN_IF_ERROR(LoadServerTls(files, security));
  return security;
}

absl::Status LoadServerTls(const CredentialFiles& files, ServerSecurity& security) {
  if (files.tls_cert.empty() != files.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (files.tls_cert.empty()) return absl::OkStatus();
  NETADAPT_ASSIGN_OR_RETURN(security.tls_cert_chain_pem, ReadPem(files.tls_cert, "--tls_cert"));
  NETADAPT_ASSIGN_OR_RETURN(security.tls_private_key_pem, ReadPem(files.tls_key, "--tls_key"));
  if (!files.tls_ca.empty()) {
    NETADAPT_ASSIGN_OR_RETURN(security.tls_client_ca_pem, ReadPem(files.tls_ca, "--tls_ca"));
  }
  return absl::OkStatus();
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  const std::string da = common::Sha256(a);
  const std::string db = common::Sha256(b);
  unsigned char diff = 0;
  for (size_t i = 0; i < da.size(); ++i) {
    diff |= static_cast<unsigned char>(da[i] ^ db[i]);
  }
  return diff == 0;
}

absl::Status Authorize(const ServerSecurity& security, absl::string_view method,
                       std::optional<absl::string_view> authorization) {
  if (security.tokens.empty() || IsOpenMethod(method)) return absl::OkStatus();
  if (!authorization.has_value()) {
    return absl::UnauthenticatedError(
        "missing credentials: this server requires a bearer token (--token_file; "
        "docs/SECURITY.md)");
  }
  if (!absl::StartsWith(*authorization, kBearerPrefix)) {
    return absl::UnauthenticatedError("the authorization header is not 'Bearer <token>'");
  }
  const absl::string_view token = authorization->substr(kBearerPrefix.size());
  // Every token is compared, whatever matched: the time says nothing about which did.
  const std::string* role = nullptr;
  for (const ServerSecurity::Token& known : security.tokens) {
    if (ConstantTimeEquals(token, known.token) && role == nullptr) role = &known.role;
  }
  if (role == nullptr) return absl::UnauthenticatedError("invalid bearer token");
  const auto allowed = security.service_roles.find(std::string(ServiceOf(method)));
  if (allowed != security.service_roles.end() &&
      std::find(allowed->second.begin(), allowed->second.end(), *role) == allowed->second.end()) {
    return absl::PermissionDeniedError(absl::StrCat(
        allowed->first, " accepts only the ", absl::StrJoin(allowed->second, ", "),
        " token; the call bore the ", *role, " token"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurity& security) {
  if (!security.enabled()) return grpc::InsecureServerCredentials();
  grpc_server_credentials* creds = nullptr;
  if (security.tls()) {
    grpc_ssl_pem_key_cert_pair pair{security.tls_private_key_pem.c_str(),
                                    security.tls_cert_chain_pem.c_str()};
    const bool mutual = !security.tls_client_ca_pem.empty();
    creds = grpc_ssl_server_credentials_create_ex(
        mutual ? security.tls_client_ca_pem.c_str() : nullptr, &pair, 1,
        mutual ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
               : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
        nullptr);
  } else {
    creds = grpc_insecure_server_credentials_create();
  }
  if (creds == nullptr) {
    return absl::InvalidArgumentError("gRPC refused the TLS certificate or key (--tls_cert, "
                                      "--tls_key, --tls_ca)");
  }
  return std::make_shared<CheckingServerCredentials>(creds, security);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const ClientSecurity& security) {
  if (!security.tls()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = security.tls_root_certs_pem;
  options.pem_cert_chain = security.tls_cert_chain_pem;
  options.pem_private_key = security.tls_private_key_pem;
  return grpc::SslCredentials(options);
}

std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
MakeClientInterceptors(const ClientSecurity& security) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> result;
  if (!security.token.empty()) {
    result.push_back(std::make_unique<BearerTokenInterceptorFactory>(security.token));
  }
  return result;
}

}  // namespace netadapt::rpc
