// libFuzzer target: latency look-up tables, both formats (JSON and binary), as uploaded with
// `netadapt submit --lut` and read by netadapt-lut when resuming.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/latency_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<netadapt::common::LatencyTable> table = netadapt::common::ParseLatencyTable(bytes);
  if (!table.ok()) return 0;
  // What parsed serialises and parses back, in both formats.
  for (auto format : {netadapt::common::LatencyTableFormat::kJson,
                      netadapt::common::LatencyTableFormat::kBinary}) {
    if (!netadapt::common::ParseLatencyTable(
             netadapt::common::SerializeLatencyTable(*table, format))
             .ok()) {
      __builtin_trap();
    }
  }
  return 0;
}
