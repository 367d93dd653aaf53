#include "common/rpc/server_flags.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace netadapt::rpc {

absl::StatusOr<ServerOptions> ServerOptionsFromFlags(const ServerFlags& flags) {
  ServerOptions options;
  NETADAPT_ASSIGN_OR_RETURN(options.security, LoadServerSecurity(flags.credentials));
  options.address = absl::StrCat(flags.host, ":", flags.port);
  options.port_file = flags.port_file;
  options.reflection = flags.reflection;
  options.insecure = flags.insecure;
  return options;
}

}  // namespace netadapt::rpc
