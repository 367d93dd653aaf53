#pragma once

#include <memory>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/rpc/auth.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace netadapt::rpc {

struct ChannelOptions {
  // Pings an idle connection this often, so a dead peer is noticed (and the connection
  // survives NATs) while a long measurement or task runs.
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  int max_message_bytes = 64 << 20;
  // The bearer token sent with every call and TLS (auth.h); default: none, plaintext.
  ClientSecurity security;
};

// The one channel factory of the project: every client channel is made here, so
// authentication (bearer token, TLS: options.security) has one place to go. Channels are
// thread-safe and meant to be reused for every call to the same target.
std::shared_ptr<grpc::Channel> MakeChannel(absl::string_view target,
                                           const ChannelOptions& options = {});

}  // namespace netadapt::rpc
