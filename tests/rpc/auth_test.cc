// Authentication (common/rpc/auth.h) on a real RpcServer over 127.0.0.1 TCP: bearer tokens and
// roles checked before any handler runs, health open to all, TLS and mutual TLS with
// certificates made by the `openssl` command at test time.
#include "common/rpc/auth.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/file_util.h"
#include "common/rpc/channel.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/server.h"
#include "netadapt/v1/profiler.grpc.pb.h"
#include "netadapt/v1/worker_service.grpc.pb.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::rpc {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kClusterToken[] = "cluster-secret-0123456789abcdef";
constexpr char kMasterToken[] = "master-secret-fedcba9876543210";

// Counts the calls that reached it: a refused call must leave both at zero.
class CountingProfiler final : public v1::ProfilerService::CallbackService {
 public:
  grpc::ServerUnaryReactor* DescribeDevice(grpc::CallbackServerContext* context,
                                           const v1::DescribeDeviceRequest*,
                                           v1::DescribeDeviceResponse* response) override {
    ++calls;
    // The token was consumed by the check: handlers never see it.
    if (context->client_metadata().count("authorization") > 0) ++saw_token;
    response->set_max_batch_shapes(7);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  std::atomic<int> calls{0};
  std::atomic<int> saw_token{0};
};

class CountingWorker final : public v1::WorkerService::CallbackService {
 public:
  grpc::ServerWriteReactor<v1::TaskUpdate>* Simplify(grpc::CallbackServerContext*,
                                                     const v1::SimplifyTask*) override {
    ++calls;
    class Done final : public grpc::ServerWriteReactor<v1::TaskUpdate> {
     public:
      Done() { Finish(grpc::Status::OK); }
      void OnDone() override { delete this; }
    };
    return new Done();
  }
  std::atomic<int> calls{0};
};

ServerSecurity TokenSecurity() {
  ServerSecurity security;
  security.tokens = {{kClusterRole, kClusterToken}, {kMasterRole, kMasterToken}};
  security.service_roles["netadapt.v1.WorkerService"] = {kMasterRole};
  return security;
}

class AuthTest : public ::testing::Test {
 protected:
  void Start(ServerSecurity security) {
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.security = std::move(security);
    NETADAPT_ASSERT_OK_AND_ASSIGN(server_, RpcServer::Start(options, {&profiler_, &worker_}));
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
  }

  std::shared_ptr<grpc::Channel> Channel(ClientSecurity security,
                                         const std::string& host = "127.0.0.1") {
    ChannelOptions options;
    options.security = std::move(security);
    return MakeChannel(absl::StrCat(host, ":", server_->port()), options);
  }
  static ClientSecurity Token(const std::string& token) {
    ClientSecurity security;
    security.token = token;
    return security;
  }

  static absl::Status Describe(const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = v1::ProfilerService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::DescribeDeviceResponse response;
    absl::Status status = FromGrpcStatus(stub->DescribeDevice(&context, {}, &response));
    if (status.ok() && response.max_batch_shapes() != 7) return absl::InternalError("bad reply");
    return status;
  }
  static absl::Status Simplify(const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = v1::WorkerService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto reader = stub->Simplify(&context, {});
    v1::TaskUpdate update;
    while (reader->Read(&update)) {
    }
    return FromGrpcStatus(reader->Finish());
  }
  // grpc.health.v1.Health/Check for the whole server: SERVING (1) or an error.
  static absl::StatusOr<int> Health(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::GenericStub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1);
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::Status status;
    stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                   &response, [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    if (!status.ok()) return FromGrpcStatus(status);
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    std::string bytes;
    for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    return bytes.size() == 2 ? bytes[1] : -1;
  }

  CountingProfiler profiler_;
  CountingWorker worker_;
  std::unique_ptr<RpcServer> server_;
};

TEST(AuthorizeTest, DecidesByTokenRoleAndService) {
  const ServerSecurity security = TokenSecurity();
  const std::string cluster = absl::StrCat("Bearer ", kClusterToken);
  const std::string master = absl::StrCat("Bearer ", kMasterToken);
  constexpr char kDescribe[] = "/netadapt.v1.ProfilerService/DescribeDevice";
  constexpr char kSimplify[] = "/netadapt.v1.WorkerService/Simplify";
  EXPECT_THAT(Authorize(security, kDescribe, std::nullopt),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("missing")));
  EXPECT_THAT(Authorize(security, kDescribe, "Basic abc"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Authorize(security, kDescribe, "Bearer wrong"),
              StatusIs(absl::StatusCode::kUnauthenticated, "invalid bearer token"));
  EXPECT_THAT(Authorize(security, kDescribe, "Bearer "),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Authorize(security, kDescribe, cluster), IsOk());
  EXPECT_THAT(Authorize(security, kDescribe, master), IsOk());
  EXPECT_THAT(Authorize(security, kSimplify, cluster),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("master")));
  EXPECT_THAT(Authorize(security, kSimplify, master), IsOk());
  EXPECT_THAT(Authorize(security, "/grpc.health.v1.Health/Check", std::nullopt), IsOk());
  EXPECT_THAT(Authorize(ServerSecurity(), kSimplify, std::nullopt), IsOk());
  // A token that prefixes, or extends, the real one is no match.
  EXPECT_THAT(Authorize(security, kDescribe, cluster.substr(0, cluster.size() - 1)),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Authorize(security, kDescribe, cluster + "x"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // Refusals never quote the token.
  EXPECT_THAT(std::string(Authorize(security, kDescribe, "Bearer guess-123").message()),
              ::testing::Not(HasSubstr("guess-123")));
}

TEST(AuthorizeTest, ConstantTimeEqualsComparesContent) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(ReadTokenFileTest, StripsWhitespaceAndRefusesBadFiles) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/token_", getpid());
  ASSERT_THAT(common::WriteFileAtomically(path, "  s3cret-token\n"), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string token, ReadTokenFile(path));
  EXPECT_EQ(token, "s3cret-token");
  ASSERT_THAT(common::WriteFileAtomically(path, "\n \n"), IsOk());
  EXPECT_THAT(ReadTokenFile(path), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  ASSERT_THAT(common::WriteFileAtomically(path, "two words"), IsOk());
  const absl::StatusOr<std::string> spaced = ReadTokenFile(path);
  EXPECT_THAT(spaced, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(spaced.status().message()), ::testing::Not(HasSubstr("words")));
  std::remove(path.c_str());
  EXPECT_THAT(ReadTokenFile(path), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(AuthTest, MissingOrWrongTokenIsRefusedBeforeTheHandler) {
  Start(TokenSecurity());
  EXPECT_THAT(Describe(Channel({})), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Describe(Channel(Token("not-the-token"))),
              StatusIs(absl::StatusCode::kUnauthenticated, "invalid bearer token"));
  EXPECT_THAT(Simplify(Channel({})), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(profiler_.calls, 0);
  EXPECT_EQ(worker_.calls, 0);

  EXPECT_THAT(Describe(Channel(Token(kClusterToken))), IsOk());
  EXPECT_EQ(profiler_.calls, 1);
  EXPECT_EQ(profiler_.saw_token, 0);
}

TEST_F(AuthTest, OnlyTheMasterTokenReachesTheWorkerService) {
  Start(TokenSecurity());
  EXPECT_THAT(Simplify(Channel(Token(kClusterToken))),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(worker_.calls, 0);
  EXPECT_THAT(Simplify(Channel(Token(kMasterToken))), IsOk());
  EXPECT_EQ(worker_.calls, 1);
}

TEST_F(AuthTest, HealthNeedsNoToken) {
  Start(TokenSecurity());
  NETADAPT_ASSERT_OK_AND_ASSIGN(int health, Health(Channel({})));
  EXPECT_EQ(health, 1);  // SERVING
}

TEST_F(AuthTest, NoSecurityConfiguredAcceptsEveryone) {
  Start(ServerSecurity());
  EXPECT_THAT(Describe(Channel({})), IsOk());
  // A client with a token may talk to a server without authentication.
  EXPECT_THAT(Describe(Channel(Token(kClusterToken))), IsOk());
  EXPECT_EQ(profiler_.calls, 2);
}

// Certificates from the `openssl` command: a CA, and a server and a client certificate it
// signed (the server's valid for 127.0.0.1 and localhost).
class TlsTest : public AuthTest {
 protected:
  static void SetUpTestSuite() {
    if (std::system("openssl version > /dev/null 2>&1") != 0) return;
    dir_ = new std::string(absl::StrCat(::testing::TempDir(), "/tls_", getpid()));
    const std::string script = absl::StrCat(
        "set -e; mkdir -p '", *dir_, "'; cd '", *dir_, "';",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=netadapt-test-ca "
        "-keyout ca.key -out ca.pem;",
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext;",
        "for who in server client; do ",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=$who -keyout $who.key -out $who.csr;",
        "openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
        "-extfile san.ext -out $who.pem; done");
    const std::string quiet = absl::StrCat("(", script, ") > '", *dir_, ".log' 2>&1");
    made_ = std::system(quiet.c_str()) == 0;
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr) (void)std::system(absl::StrCat("rm -rf '", *dir_, "'").c_str());
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    // The TLS certificates are made at test time with the openssl command (Debian package
    // openssl, present on CI machines); without it only the TLS cases cannot run.
    if (dir_ == nullptr) GTEST_SKIP() << "no openssl command";
    ASSERT_TRUE(made_) << "openssl failed; see " << *dir_ << ".log";
  }
  static std::string File(const std::string& name) { return absl::StrCat(*dir_, "/", name); }

  ServerSecurity ServerTls(bool mutual) {
    ServerSecurity security = TokenSecurity();
    CredentialFiles files;
    files.tls_cert = File("server.pem");
    files.tls_key = File("server.key");
    if (mutual) files.tls_ca = File("ca.pem");
    EXPECT_THAT(LoadServerTls(files, security), IsOk());
    return security;
  }
  ClientSecurity ClientTls(bool with_certificate) {
    CredentialFiles files;
    files.tls_ca = File("ca.pem");
    if (with_certificate) {
      files.tls_cert = File("client.pem");
      files.tls_key = File("client.key");
    }
    absl::StatusOr<ClientSecurity> security = LoadClientSecurity(files);
    EXPECT_THAT(security, IsOk());
    security->token = kClusterToken;
    return *security;
  }

  static inline std::string* dir_ = nullptr;
  static inline bool made_ = false;
};

TEST_F(TlsTest, TlsCarriesTheTokenAndRefusesPlaintext) {
  Start(ServerTls(/*mutual=*/false));
  EXPECT_THAT(Describe(Channel(ClientTls(false))), IsOk());
  EXPECT_THAT(Describe(Channel(ClientTls(false), "localhost")), IsOk());
  ClientSecurity no_token = ClientTls(false);
  no_token.token.clear();
  EXPECT_THAT(Describe(Channel(no_token)), StatusIs(absl::StatusCode::kUnauthenticated));
  // A plaintext client cannot talk to a TLS port.
  EXPECT_THAT(Describe(Channel(Token(kClusterToken))), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(profiler_.calls, 2);
}

TEST_F(TlsTest, ServerCertificateFromAnotherCaIsRefused) {
  Start(ServerTls(/*mutual=*/false));
  ClientSecurity wrong_ca = ClientTls(false);
  // The server's own certificate as the only trusted root: its issuer is unknown.
  NETADAPT_ASSERT_OK_AND_ASSIGN(wrong_ca.tls_root_certs_pem, common::ReadFile(File("client.pem")));
  EXPECT_THAT(Describe(Channel(wrong_ca)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(profiler_.calls, 0);
}

TEST_F(TlsTest, MutualTlsRefusesAClientWithoutCertificate) {
  Start(ServerTls(/*mutual=*/true));
  EXPECT_THAT(Describe(Channel(ClientTls(/*with_certificate=*/false))),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(profiler_.calls, 0);
  EXPECT_THAT(Describe(Channel(ClientTls(/*with_certificate=*/true))), IsOk());
  EXPECT_EQ(profiler_.calls, 1);
}

TEST(RpcServerSecurityTest, UnusableCertificateFailsTheStart) {
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.security.tls_cert_chain_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  options.security.tls_private_key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  CountingProfiler profiler;
  EXPECT_FALSE(RpcServer::Start(options, {&profiler}).ok());
}

TEST(CredentialFilesTest, BadFilesAreNamed) {
  CredentialFiles files;
  files.tls_cert = "/nonexistent/cert.pem";
  ServerSecurity security;
  EXPECT_THAT(LoadServerTls(files, security),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("go together")));
  files.tls_key = "/nonexistent/key.pem";
  EXPECT_THAT(LoadServerTls(files, security), StatusIs(absl::StatusCode::kNotFound,
                                                       HasSubstr("--tls_cert")));
  CredentialFiles client;
  client.token_file = "/nonexistent/token";
  EXPECT_THAT(LoadClientSecurity(client), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace netadapt::rpc
