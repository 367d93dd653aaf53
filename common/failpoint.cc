#include "common/failpoint.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"

namespace netadapt::common {
namespace {

struct Point {
  std::string action;
  int hit = 1;     // acts on this pass
  int passes = 0;  // so far
};

struct Points {
  absl::Mutex mu;
  std::map<std::string, Point, std::less<>> points ABSL_GUARDED_BY(mu);
};

// Parsed once; malformed entries are reported and ignored (a test that relies on one sees
// its fault not happen and fails on that).
Points* Parse() {
  const char* spec = std::getenv("NETADAPT_FAILPOINTS");
  if (spec == nullptr || *spec == '\0') return nullptr;
  auto* points = new Points();
  absl::MutexLock lock(&points->mu);
  for (absl::string_view entry : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> name_action = absl::StrSplit(entry, '=');
    std::pair<std::string, std::string> action_hit = absl::StrSplit(name_action.second, '@');
    Point point;
    point.action = action_hit.first;
    if ((point.action != "kill" && point.action != "stop") ||
        (!action_hit.second.empty() && !absl::SimpleAtoi(action_hit.second, &point.hit))) {
      Logger("failpoint")->error("NETADAPT_FAILPOINTS: \"{}\" is not name=kill|stop[@hit]",
                                 std::string(entry));
      continue;
    }
    points->points[name_action.first] = point;
  }
  return points;
}

}  // namespace

void Failpoint(absl::string_view name) {
  static Points* const points = Parse();
  if (points == nullptr) return;
  std::string action;
  {
    absl::MutexLock lock(&points->mu);
    auto it = points->points.find(name);
    if (it == points->points.end() || ++it->second.passes != it->second.hit) return;
    action = it->second.action;
  }
  Logger("failpoint")->warn("failpoint {}: {} (pid {})", std::string(name), action, getpid());
  Logger("failpoint")->flush();
  ::kill(::getpid(), action == "kill" ? SIGKILL : SIGSTOP);
}

}  // namespace netadapt::common
