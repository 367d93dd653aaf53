// Authentication end to end (docs/SECURITY.md): the real netadapt-profiler, netadapt-master
// and one netadapt-worker started with a cluster token and a master token; the `netadapt` CLI
// refused without the token and working with it; the worker's WorkerService refusing every
// caller but the master.
#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/network_def_json.h"
#include "common/rpc/channel.h"
#include "common/rpc/grpc_status.h"
#include "netadapt/v1/job_service.grpc.pb.h"
#include "netadapt/v1/worker_service.grpc.pb.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"

extern char** environ;

namespace netadapt {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kClusterToken[] = "e2e-cluster-token-5f0c2a9d41b7";
constexpr char kMasterToken[] = "e2e-master-token-93ad06e1c4f8";

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

class AuthE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(absl::StrCat(::testing::TempDir(), "/auth_e2e_", getpid()));
    ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", *dir_, "'").c_str()), 0);
    ASSERT_TRUE(common::WriteFileAtomically(ClusterTokenFile(), kClusterToken).ok());
    ASSERT_TRUE(common::WriteFileAtomically(MasterTokenFile(), kMasterToken).ok());
    std::string error;
    profiler_ = new testing::ServerProcess();
    std::optional<int> profiler = profiler_->Start(
        NETADAPT_PROFILER_BINARY,
        {"--threads=1", "--min_runs=3", "--max_time_ms=100", "--token_file=" + ClusterTokenFile()},
        std::chrono::seconds(30), &error);
    ASSERT_TRUE(profiler) << error;
    master_ = new testing::ServerProcess();
    std::optional<int> master = master_->Start(
        NETADAPT_MASTER_BINARY,
        {absl::StrCat("--profiler=127.0.0.1:", *profiler), "--state_dir=" + *dir_ + "/state",
         "--heartbeat_interval_ms=200", "--token_file=" + ClusterTokenFile(),
         "--master_token_file=" + MasterTokenFile()},
        std::chrono::seconds(30), &error);
    ASSERT_TRUE(master) << error;
    master_address_ = new std::string(absl::StrCat("127.0.0.1:", *master));
    worker_ = new testing::ServerProcess();
    std::optional<int> worker = worker_->Start(
        NETADAPT_WORKER_BINARY,
        {"--master=" + *master_address_, "--device=cpu", "--threads=1",
         "--cache_dir=" + *dir_ + "/worker", "--token_file=" + ClusterTokenFile(),
         "--master_token_file=" + MasterTokenFile()},
        std::chrono::seconds(30), &error);
    ASSERT_TRUE(worker) << error;
    worker_address_ = new std::string(absl::StrCat("127.0.0.1:", *worker));
  }
  static void TearDownTestSuite() {
    for (testing::ServerProcess* p : {worker_, master_, profiler_}) delete p;
    worker_ = master_ = profiler_ = nullptr;
    if (dir_ != nullptr) (void)std::system(absl::StrCat("rm -rf '", *dir_, "'").c_str());
    delete dir_;
    delete master_address_;
    delete worker_address_;
  }
  void SetUp() override {
    ASSERT_NE(worker_address_, nullptr) << "the cluster did not start";
  }

  static std::string ClusterTokenFile() { return *dir_ + "/cluster.token"; }
  static std::string MasterTokenFile() { return *dir_ + "/master.token"; }

  static std::shared_ptr<grpc::Channel> Channel(const std::string& address,
                                                const std::string& token) {
    rpc::ChannelOptions options;
    options.security.token = token;
    return rpc::MakeChannel(address, options);
  }

  // Runs the CLI with `args` and the environment without $NETADAPT_* plus `env`.
  static CliResult RunCli(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {NETADAPT_CLI_BINARY, "--master=" + *master_address_});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "NETADAPT_")) env.emplace_back(*e);
    }
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string log = absl::StrCat(*dir_, "/cli_", counter_++, ".log");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    CliResult result;
    pid_t pid = -1;
    if (posix_spawn(&pid, NETADAPT_CLI_BINARY, &actions, nullptr, argv.data(), envp.data()) == 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    posix_spawn_file_actions_destroy(&actions);
    result.output = common::ReadFile(log).value_or("");
    return result;
  }

  // conv(1->8) - pool - conv(8->16) - pool - linear, adapted for FLOPS in one iteration.
  static std::string SpecFile() {
    v1::JobSpec spec;
    spec.set_dataset("synthetic:classes=4,shape=1x16x16,train=256,test=128,seed=3");
    auto network = common::NetworkDefFromJson(R"({
      "name": "tiny", "input": {"channels": 1, "height": 16, "width": 16},
      "layers": [
        {"name": "features.0", "op": "conv2d", "in_channels": 1, "out_channels": 8,
         "kernel_size": [3], "padding": [1]},
        {"name": "features.1", "op": "relu"},
        {"name": "features.2", "op": "maxpool2d", "kernel_size": [2], "stride": [2]},
        {"name": "features.3", "op": "conv2d", "in_channels": 8, "out_channels": 16,
         "kernel_size": [3], "padding": [1]},
        {"name": "features.4", "op": "relu"},
        {"name": "features.5", "op": "maxpool2d", "kernel_size": [2], "stride": [2]},
        {"name": "flatten", "op": "flatten"},
        {"name": "classifier", "op": "linear", "in_channels": 256, "out_channels": 4}]})");
    EXPECT_TRUE(network.ok()) << network.status();
    *spec.mutable_network() = common::NetworkDefToProto(*network);
    spec.set_holdout_size(64);
    spec.set_resource_type(v1::RESOURCE_TYPE_FLOPS);
    spec.set_budget_ratio(0.8);
    spec.set_init_resource_reduction_ratio(0.2);
    spec.set_max_iters(1);
    spec.set_short_term_fine_tune_iteration(5);
    spec.set_batch_size(32);
    spec.set_channel_step(2);
    spec.set_seed(5);
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(spec, &json).ok());
    const std::string path = *dir_ + "/spec.json";
    EXPECT_TRUE(common::WriteFileAtomically(path, json).ok());
    return path;
  }

  static inline std::string* dir_ = nullptr;
  static inline std::string* master_address_ = nullptr;
  static inline std::string* worker_address_ = nullptr;
  static inline testing::ServerProcess* profiler_ = nullptr;
  static inline testing::ServerProcess* master_ = nullptr;
  static inline testing::ServerProcess* worker_ = nullptr;
  static inline int counter_ = 0;
};

TEST_F(AuthE2eTest, TheCliNeedsTheClusterToken) {
  CliResult refused = RunCli({"list"});
  EXPECT_EQ(refused.exit_code, 5) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("UNAUTHENTICATED"));
  CliResult wrong = RunCli({"list"}, {"NETADAPT_TOKEN=not-the-token"});
  EXPECT_EQ(wrong.exit_code, 5) << wrong.output;
  // The master token is the workers' business, not the master's.
  CliResult master_token = RunCli({"list", "--token-file=" + MasterTokenFile()});
  EXPECT_EQ(master_token.exit_code, 5) << master_token.output;
  for (const CliResult& r : {refused, wrong, master_token}) {
    EXPECT_THAT(r.output, ::testing::Not(HasSubstr(kClusterToken)));
    EXPECT_THAT(r.output, ::testing::Not(HasSubstr(kMasterToken)));
  }

  CliResult by_file = RunCli({"list", "--token-file=" + ClusterTokenFile()});
  EXPECT_EQ(by_file.exit_code, 0) << by_file.output;
  CliResult by_env_file = RunCli({"list"}, {"NETADAPT_TOKEN_FILE=" + ClusterTokenFile()});
  EXPECT_EQ(by_env_file.exit_code, 0) << by_env_file.output;
  CliResult by_env = RunCli({"list"}, {absl::StrCat("NETADAPT_TOKEN=", kClusterToken)});
  EXPECT_EQ(by_env.exit_code, 0) << by_env.output;
}

TEST_F(AuthE2eTest, AJobRunsWhenEveryoneHasTheirToken) {
  // The worker registered with the cluster token.
  auto jobs = v1::JobService::NewStub(Channel(*master_address_, kClusterToken));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  int workers = 0;
  while (workers == 0 && absl::Now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListWorkersResponse response;
    ASSERT_TRUE(jobs->ListWorkers(&context, {}, &response).ok());
    workers = response.workers_size();
    if (workers == 0) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(workers, 1);
  // The master dispatched its tasks with the master token.
  CliResult submitted = RunCli({"submit", "--spec=" + SpecFile(), "--wait",
                                "--token-file=" + ClusterTokenFile()});
  EXPECT_EQ(submitted.exit_code, 0) << submitted.output;
  EXPECT_THAT(submitted.output, HasSubstr("FINE_TUNING on workers/"));
  EXPECT_THAT(submitted.output, HasSubstr("jobs/1: SUCCEEDED"));
}

TEST_F(AuthE2eTest, OnlyTheMasterMayCallTheWorkerService) {
  auto simplify = [](const std::string& token) {
    auto stub = v1::WorkerService::NewStub(Channel(*worker_address_, token));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto reader = stub->Simplify(&context, v1::SimplifyTask());
    v1::TaskUpdate update;
    while (reader->Read(&update)) {
    }
    return rpc::FromGrpcStatus(reader->Finish());
  };
  EXPECT_THAT(simplify(""), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(simplify("forged"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(simplify(kClusterToken), StatusIs(absl::StatusCode::kPermissionDenied));
  // The master token passes the check; the empty task is then refused as bad input.
  const absl::Status with_master_token = simplify(kMasterToken);
  EXPECT_NE(with_master_token.code(), absl::StatusCode::kUnauthenticated) << with_master_token;
  EXPECT_NE(with_master_token.code(), absl::StatusCode::kPermissionDenied) << with_master_token;
  EXPECT_FALSE(with_master_token.ok());
}

// Secure by default (issue 14): each server binary asked to listen on all interfaces without
// a token exits at once with status 1, naming the flags; with --insecure it serves.
TEST(SecureDefaultsTest, AllInterfacesWithoutATokenIsRefusedByEveryServer) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/secure_defaults_", getpid());
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()), 0);
  for (const std::string binary :
       {NETADAPT_MASTER_BINARY, NETADAPT_WORKER_BINARY, NETADAPT_PROFILER_BINARY}) {
    std::string extra = binary == NETADAPT_MASTER_BINARY
                            ? absl::StrCat(" --state_dir='", dir, "/state'")
                            : binary == NETADAPT_WORKER_BINARY ? " --master=127.0.0.1:1" : "";
    const std::string log = dir + "/log";
    const std::string command = absl::StrCat("timeout 20 ", binary, " --host=0.0.0.0 --port=0",
                                             extra, " > '", log, "' 2>&1");
    const int status = std::system(command.c_str());
    ASSERT_TRUE(WIFEXITED(status)) << command;
    EXPECT_EQ(WEXITSTATUS(status), 1) << command;
    NETADAPT_ASSERT_OK_AND_ASSIGN(std::string output, common::ReadFile(log));
    EXPECT_THAT(output, HasSubstr("refusing to listen on 0.0.0.0:0 without authentication"))
        << binary;
    EXPECT_THAT(output, HasSubstr("--token_file")) << binary;
    EXPECT_THAT(output, HasSubstr("--insecure")) << binary;
  }
  // --insecure: the profiler agent (no other dependencies) serves on all interfaces until
  // `timeout` stops it (status 124).
  const std::string log = dir + "/insecure.log";
  const std::string command =
      absl::StrCat("timeout 3 ", NETADAPT_PROFILER_BINARY,
                   " --insecure --host=0.0.0.0 --port=0 --threads=1 > '", log, "' 2>&1");
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << command;
  EXPECT_EQ(WEXITSTATUS(status), 124) << command;
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string output, common::ReadFile(log));
  EXPECT_THAT(output, HasSubstr("listening on 0.0.0.0:0"));
}

}  // namespace
}  // namespace netadapt
