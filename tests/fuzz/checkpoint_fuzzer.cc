// libFuzzer target: netadapt checkpoints (common/checkpoint_format.h), the files workers load
// and `netadapt submit --weights` uploads, parsed without LibTorch.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/checkpoint_format.h"
#include "common/sha256.h"
#include "tests/fuzz/network_common.h"

namespace {

void Decode(absl::string_view bytes) {
  absl::StatusOr<netadapt::common::CheckpointContents> contents =
      netadapt::common::DecodeCheckpoint(bytes);
  if (!contents.ok()) return;
  (void)netadapt::common::CheckTensorsMatch(contents->def, contents->tensors, "fuzz");
  netadapt::fuzz::AnalyseNetwork(contents->def);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  Decode(bytes);
  // A mutated file almost never carries the right trailing SHA-256, which would keep the
  // fuzzer out of the header parser: decode it again with the checksum made right.
  if (size > netadapt::common::kSha256Size) {
    std::string fixed(bytes.substr(0, size - netadapt::common::kSha256Size));
    fixed += netadapt::common::Sha256(fixed);
    Decode(fixed);
  }
  return 0;
}
