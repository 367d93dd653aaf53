#include "common/dense_solve.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::StatusIs;

TEST(DenseSolveTest, SolvesASymmetricIndefiniteSystemFromItsLowerTriangle) {
  // A = [[0, 1, 8], [1, 0, 1], [8, 1, 0]] (cubic distances of 0, 1, 2: indefinite, zero diagonal),
  // x = (1, 2, 3); only the lower triangle is filled.
  for (DenseSolver solver : AvailableDenseSolvers()) {
    std::vector<double> a = {0, 1, 8, /**/ -99, 0, 1, /**/ -99, -99, 0};
    std::vector<double> b = {0 * 1 + 1 * 2 + 8 * 3, 1 * 1 + 0 * 2 + 1 * 3, 8 * 1 + 1 * 2 + 0 * 3};
    ASSERT_THAT(SolveSymmetricInPlace(solver, 3, a, b), ::netadapt::testing::IsOk())
        << DenseSolverName(solver);
    EXPECT_NEAR(b[0], 1, 1e-12) << DenseSolverName(solver);
    EXPECT_NEAR(b[1], 2, 1e-12) << DenseSolverName(solver);
    EXPECT_NEAR(b[2], 3, 1e-12) << DenseSolverName(solver);
  }
}

TEST(DenseSolveTest, SingularSystemIsFailedPreconditionNeverNaN) {
  // Two equal rows: what two duplicate points give an rbf system.
  for (DenseSolver solver : AvailableDenseSolvers()) {
    std::vector<double> a = {1, 1, 1, 1};
    std::vector<double> b = {1, 2};
    EXPECT_THAT(SolveSymmetricInPlace(solver, 2, a, b),
                StatusIs(absl::StatusCode::kFailedPrecondition))
        << DenseSolverName(solver);
  }
}

TEST(DenseSolveTest, DefaultIsLapackWhereBuiltAndSizesAreChecked) {
  EXPECT_EQ(DefaultDenseSolver(),
            HaveLapack() ? DenseSolver::kLapackSymmetric : DenseSolver::kEigenLu);
  EXPECT_EQ(AvailableDenseSolvers().size(), HaveLapack() ? 3u : 1u);
  if (!HaveLapack()) {
    std::vector<double> a = {2};
    std::vector<double> b = {4};
    EXPECT_THAT(SolveSymmetricInPlace(DenseSolver::kLapackSymmetric, 1, a, b),
                StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  std::vector<double> a = {1, 0, 0};
  std::vector<double> b = {1, 1};
  EXPECT_THAT(SolveSymmetricInPlace(DefaultDenseSolver(), 2, a, b),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace netadapt::common
