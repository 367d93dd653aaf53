#pragma once

#include "absl/status/status.h"
#include "netadapt/v1/resources.pb.h"

namespace netadapt::master {

// JobSpec's grouped options (fine_tuning, search_options) and their flat fields, kept as one:
// clients may send either form (docs/USER_GUIDE.md, "The job spec").

// Copies every value set in a group into its flat field. InvalidArgument naming both fields
// when a flat field holds a different value.
absl::Status MergeSpecGroups(v1::JobSpec& spec);

// Fills the groups from the flat fields (after the defaults), so a resolved spec shows both
// forms alike; also what a job stored before the groups existed gets when it resumes.
void FillSpecGroups(v1::JobSpec& spec);

}  // namespace netadapt::master
