// libFuzzer target: NetworkDef JSON (netadapt submit --network, netadapt-lut --network), then
// every analysis of a network that parsed.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/network_def_json.h"
#include "tests/fuzz/network_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<netadapt::common::NetworkDef> network = netadapt::common::NetworkDefFromJson(json);
  if (network.ok()) netadapt::fuzz::AnalyseNetwork(*network);
  return 0;
}
