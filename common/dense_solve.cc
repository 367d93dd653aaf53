#include "common/dense_solve.h"

#include <Eigen/Dense>
#include <cmath>

#include "absl/strings/str_cat.h"

#ifdef NETADAPT_HAVE_LAPACK
#include <lapacke.h>
#endif

namespace netadapt::common {
namespace {

// The upper triangle from the lower one, for the solvers that read the whole matrix.
void MirrorLowerToUpper(int64_t n, std::vector<double>& a) {
  for (int64_t j = 1; j < n; ++j) {
    for (int64_t i = 0; i < j; ++i) a[j * n + i] = a[i * n + j];
  }
}

absl::Status Singular(DenseSolver solver, int64_t n, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat("the ", n, " x ", n, " system is singular (",
                                                    DenseSolverName(solver), ": ", why, ")"));
}

}  // namespace

absl::string_view DenseSolverName(DenseSolver solver) {
  switch (solver) {
    case DenseSolver::kEigenLu:
      return "eigen-lu";
    case DenseSolver::kLapackGeneral:
      return "dgesv";
    case DenseSolver::kLapackSymmetric:
      return "dsysv";
  }
  return "unknown";
}

bool HaveLapack() {
#ifdef NETADAPT_HAVE_LAPACK
  return true;
#else
  return false;
#endif
}

std::vector<DenseSolver> AvailableDenseSolvers() {
  if (!HaveLapack()) return {DenseSolver::kEigenLu};
  return {DenseSolver::kEigenLu, DenseSolver::kLapackGeneral, DenseSolver::kLapackSymmetric};
}

DenseSolver DefaultDenseSolver() {
  return HaveLapack() ? DenseSolver::kLapackSymmetric : DenseSolver::kEigenLu;
}

absl::Status SolveSymmetricInPlace(DenseSolver solver, int64_t n, std::vector<double>& a,
                                   std::vector<double>& b) {
  if (n < 1 || static_cast<int64_t>(a.size()) != n * n || static_cast<int64_t>(b.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat("dense solve: a ", n, " x ", n, " system needs ",
                                                   n * n, " + ", n, " values, got ", a.size(),
                                                   " + ", b.size()));
  }
  switch (solver) {
    case DenseSolver::kEigenLu: {
      MirrorLowerToUpper(n, a);
      Eigen::Map<Eigen::MatrixXd> matrix(a.data(), n, n);
      Eigen::Map<Eigen::VectorXd> rhs(b.data(), n);
      // PartialPivLU reports no singularity: a zero pivot shows as non-finite x (below).
      Eigen::PartialPivLU<Eigen::Ref<Eigen::MatrixXd>> lu(matrix);  // factorises in place
      rhs = lu.solve(rhs).eval();
      break;
    }
    case DenseSolver::kLapackGeneral:
    case DenseSolver::kLapackSymmetric: {
#ifdef NETADAPT_HAVE_LAPACK
      std::vector<lapack_int> pivots(n);
      lapack_int info = 0;
      if (solver == DenseSolver::kLapackGeneral) {
        MirrorLowerToUpper(n, a);
        info = LAPACKE_dgesv(LAPACK_COL_MAJOR, n, 1, a.data(), n, pivots.data(), b.data(), n);
      } else {
        info = LAPACKE_dsysv(LAPACK_COL_MAJOR, 'L', n, 1, a.data(), n, pivots.data(), b.data(), n);
      }
      if (info > 0) return Singular(solver, n, absl::StrCat("zero pivot at ", info));
      if (info < 0) {
        return absl::InternalError(absl::StrCat(DenseSolverName(solver), ": bad argument ", -info));
      }
      break;
#else
      return absl::FailedPreconditionError(
          absl::StrCat(DenseSolverName(solver),
                       ": this build has no LAPACK (see cmake/NetadaptDependencies.cmake)"));
#endif
    }
  }
  for (double x : b) {
    if (!std::isfinite(x)) return Singular(solver, n, "non-finite solution");
  }
  return absl::OkStatus();
}

}  // namespace netadapt::common
