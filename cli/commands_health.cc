// health: grpc.health.v1.Health/Check against --master (or any netadapt server), for
// container healthchecks: Debian ships no grpc_health_probe.
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>
#include <ostream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "common/rpc/channel.h"
#include "common/rpc/grpc_status.h"

namespace netadapt::cli {
namespace {

// grpc.health.v1.HealthCheckRequest {string service = 1;} in the protobuf wire format. The
// messages are hand-encoded: Debian's gRPC ships neither health.proto nor its generated code.
std::string EncodeHealthCheckRequest(absl::string_view service) {
  std::string bytes;
  if (service.empty()) return bytes;
  bytes += '\x0a';  // field 1, length-delimited
  for (uint64_t n = service.size(); ; n >>= 7) {
    if (n < 0x80) {
      bytes += static_cast<char>(n);
      break;
    }
    bytes += static_cast<char>((n & 0x7f) | 0x80);
  }
  absl::StrAppend(&bytes, service);
  return bytes;
}

bool ReadVarint(absl::string_view& in, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<HealthState> DecodeHealthCheckResponse(absl::string_view bytes) {
  // grpc.health.v1.HealthCheckResponse {ServingStatus status = 1;}; unknown fields skipped.
  uint64_t status = 0;
  while (!bytes.empty()) {
    uint64_t tag = 0;
    uint64_t value = 0;
    if (!ReadVarint(bytes, &tag)) break;
    switch (tag & 7) {
      case 0:
        if (!ReadVarint(bytes, &value)) break;
        if (tag >> 3 == 1) status = value;
        continue;
      case 1:
        if (bytes.size() < 8) break;
        bytes.remove_prefix(8);
        continue;
      case 2:
        if (!ReadVarint(bytes, &value) || value > bytes.size()) break;
        bytes.remove_prefix(value);
        continue;
      case 5:
        if (bytes.size() < 4) break;
        bytes.remove_prefix(4);
        continue;
      default:
        break;
    }
    return absl::DataLossError("malformed grpc.health.v1.HealthCheckResponse");
  }
  return status <= 3 ? static_cast<HealthState>(status) : HealthState::kUnknown;
}

absl::string_view HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kServing: return "SERVING";
    case HealthState::kNotServing: return "NOT_SERVING";
    case HealthState::kServiceUnknown: return "SERVICE_UNKNOWN";
    case HealthState::kUnknown: break;
  }
  return "UNKNOWN";
}

int RunHealth(CommandContext& ctx, const std::string& service) {
  const std::string& target = ctx.options().master;
  grpc::GenericStub stub(rpc::MakeChannel(target, ctx.channel_options()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + ctx.options().timeout));
  const std::string request_bytes = EncodeHealthCheckRequest(service);
  grpc::Slice slice(request_bytes);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return ctx.Fail(rpc::FromGrpcStatus(status));
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (response.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  absl::StatusOr<HealthState> state = DecodeHealthCheckResponse(bytes);
  if (!state.ok()) return ctx.Fail(state.status());
  const absl::string_view name = HealthStateName(*state);
  if (ctx.options().output == OutputFormat::kJson) {
    ctx.out() << "{\"status\": \"" << name << "\"}" << std::endl;
  } else {
    ctx.out() << target << (service.empty() ? "" : absl::StrCat(" ", service)) << ": " << name
              << std::endl;
  }
  if (*state == HealthState::kServing) return kExitOk;
  // Not serving: for healthchecks and scripts, the same as unreachable (exit 2).
  return ExitCodeForStatus(absl::UnavailableError(std::string(name)));
}

}  // namespace netadapt::cli
