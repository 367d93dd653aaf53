#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace netadapt::common {

// Dense linear solvers for the rbf-cubic fit (common/lut_interpolation.cc). Its own library,
// netadapt_dense_solve: LAPACK (OpenBLAS, threaded) where CMake found it, Eigen otherwise and in
// the Jetson agent's build (-DNETADAPT_AGENT_ONLY=ON), which never fits a surface.
enum class DenseSolver {
  kEigenLu,          // Eigen's PartialPivLU, one thread (the solver before LAPACK)
  kLapackGeneral,    // LAPACK dgesv: LU with partial pivoting, OpenBLAS's threaded getrf
  kLapackSymmetric,  // LAPACK dsysv: Bunch-Kaufman LDL^T, reads one triangle only
};
absl::string_view DenseSolverName(DenseSolver solver);  // "eigen-lu", "dgesv", "dsysv"

// Whether this build links LAPACK (the kLapack* solvers).
bool HaveLapack();
// The solvers this build has: kEigenLu, and the kLapack* ones with LAPACK.
std::vector<DenseSolver> AvailableDenseSolvers();
// The fastest solver of this build for symmetric systems: kLapackSymmetric with LAPACK, kEigenLu
// without (docs/BENCHMARKS.md, "rbf-cubic: the one-time fit").
DenseSolver DefaultDenseSolver();

// Solves A x = b in place for a symmetric n x n matrix A, stored column-major in `a` (n * n values)
// with at least its lower triangle filled (kEigenLu and kLapackGeneral mirror it to the upper one).
// On success `b` holds x; `a` is overwritten with the factorisation either way. Thread-safe (no
// shared state; the LAPACK solvers use OpenBLAS's threads). Errors: InvalidArgument when the sizes
// disagree; FailedPrecondition when the solver finds A singular (a zero pivot: LAPACK's info > 0)
// or x is not finite; FailedPrecondition for a kLapack* solver in a build without LAPACK.
absl::Status SolveSymmetricInPlace(DenseSolver solver, int64_t n, std::vector<double>& a,
                                   std::vector<double>& b);

}  // namespace netadapt::common
