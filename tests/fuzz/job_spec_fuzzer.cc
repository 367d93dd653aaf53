// libFuzzer target: a JobSpec in protobuf JSON (netadapt submit --spec, and what CreateJob
// carries), then what the master checks of it without a JobManager: its network (converted and
// analysed) and its dataset spec.
#include <google/protobuf/util/json_util.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/dataset_spec.h"
#include "common/network_def_json.h"
#include "netadapt/v1/resources.pb.h"
#include "tests/fuzz/network_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  netadapt::v1::JobSpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(json, &spec, options).ok()) return 0;
  (void)netadapt::common::ParseDatasetSpec(spec.dataset());
  if (spec.has_network()) {
    absl::StatusOr<netadapt::common::NetworkDef> network =
        netadapt::common::NetworkDefFromProto(spec.network());
    if (network.ok()) netadapt::fuzz::AnalyseNetwork(*network);
  }
  // The bytes of the spec, as the master journals them, parse back.
  std::string bytes;
  if (!spec.SerializeToString(&bytes)) __builtin_trap();
  netadapt::v1::JobSpec again;
  if (!again.ParseFromString(bytes)) __builtin_trap();
  return 0;
}
