#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace netadapt::rpc {

// Status conversions at the RPC boundary (STYLE.md section 4). Codes map one to one (both
// follow google.rpc.Code); the message is kept. Error details are not carried.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace netadapt::rpc
