#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "common/network_def.h"
#include "netadapt/v1/network.pb.h"

namespace netadapt::common {

// Converts the wire form and checks it: every field must apply to the layer's op, pairs take
// one or two values, and the result must pass Validate(). InvalidArgument names the layer
// index, the field and the problem.
absl::StatusOr<NetworkDef> NetworkDefFromProto(const v1::NetworkDef& proto);
v1::NetworkDef NetworkDefToProto(const NetworkDef& network);

// The JSON form users write by hand (protobuf's JSON mapping of v1::NetworkDef), e.g.
//   {"name": "tiny", "input": {"channels": 3, "height": 32, "width": 32},
//    "layers": [{"name": "features.0", "op": "conv2d", "in_channels": 3, "out_channels": 16,
//                "kernel_size": [3], "padding": [1]}, ...]}
// Unknown fields are rejected (a typo must not be silently ignored).
absl::StatusOr<NetworkDef> NetworkDefFromJson(absl::string_view json);
std::string NetworkDefToJson(const NetworkDef& network);

}  // namespace netadapt::common
