// libFuzzer target: the pickle reader of PyTorch state_dicts (common/torch_pickle.h), which
// reads `netadapt submit --weights model.pt` uploads.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/torch_pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)netadapt::common::ParseTorchPickle(bytes);
  return 0;
}
