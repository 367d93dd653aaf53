#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace netadapt::common {
namespace {

constexpr char kPattern[] = "%Y-%m-%dT%H:%M:%S.%e [%n] [%l] [t:%t] %v";

}  // namespace

absl::Status InitLogging(absl::string_view component, absl::string_view level) {
  spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  absl::Status status;
  // from_str maps anything unknown to "off": tell that apart from a real "off".
  if (parsed == spdlog::level::off && level != "off") {
    status = absl::InvalidArgumentError(absl::StrCat(
        "log level '", level, "' is not one of trace, debug, info, warn, error, critical, off"));
    parsed = spdlog::level::info;
  }
  spdlog::set_pattern(kPattern);
  spdlog::set_level(parsed);
  std::shared_ptr<spdlog::logger> logger = Logger(component);
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  // Loggers created later (Logger("rpc")) take the level set above.
  return status;
}

std::shared_ptr<spdlog::logger> Logger(absl::string_view name) {
  const std::string key(name);
  if (std::shared_ptr<spdlog::logger> existing = spdlog::get(key)) return existing;
  // Creating a name twice throws in spdlog: serialise creation instead of catching.
  static absl::Mutex* const mu = new absl::Mutex();
  absl::MutexLock lock(mu);
  if (std::shared_ptr<spdlog::logger> existing = spdlog::get(key)) return existing;
  std::shared_ptr<spdlog::logger> logger = spdlog::stderr_logger_mt(key);
  logger->set_pattern(kPattern);
  logger->set_level(spdlog::get_level());
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace netadapt::common
