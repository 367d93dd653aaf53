// explain: what a network's blocks are, without a master. Users check here which layers a
// proposal will prune together before they submit a residual or concatenating network.
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "common/file_util.h"
#include "common/network_blocks.h"
#include "common/network_def_json.h"
#include "common/zoo.h"

namespace netadapt::cli {
namespace {

absl::StatusOr<common::NetworkDef> LoadNetwork(const ExplainOptions& options) {
  if (options.model.empty() == options.network_file.empty()) {
    return absl::InvalidArgumentError("give --model (a zoo model) or --network (a JSON file)");
  }
  if (!options.model.empty()) {
    common::ZooOptions zoo;
    zoo.input_size = options.input_size;
    zoo.num_classes = options.num_classes;
    zoo.width_multiplier = options.width_multiplier;
    return common::ZooNetwork(options.model, zoo);
  }
  absl::StatusOr<std::string> json = common::ReadFile(options.network_file);
  if (!json.ok()) return json.status();
  absl::StatusOr<common::NetworkDef> network = common::NetworkDefFromJson(*json);
  if (!network.ok()) {
    return absl::Status(network.status().code(), absl::StrCat("--network ", options.network_file,
                                                              ": ", network.status().message()));
  }
  return network;
}

}  // namespace

int RunExplain(CommandContext& ctx, const ExplainOptions& options) {
  absl::StatusOr<common::NetworkDef> network = LoadNetwork(options);
  if (!network.ok()) return ctx.Fail(network.status());
  absl::StatusOr<std::string> explained = common::ExplainBlocks(*network);
  if (!explained.ok()) return ctx.Fail(explained.status());
  absl::StatusOr<std::vector<common::TensorShape>> shapes = common::InferShapes(*network);
  const common::TensorShape& out = shapes->back();
  ctx.out() << (network->name.empty() ? std::string("network") : network->name) << ": "
            << network->layers.size() << " layers, input [" << network->input.channels << ", "
            << network->input.height << ", " << network->input.width << "], output ["
            << out.channels << ", " << out.height << ", " << out.width << "]\n"
            << *explained;
  return kExitOk;
}

}  // namespace netadapt::cli
