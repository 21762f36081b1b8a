// Linear regression for pruning and for fitting a neuron's readout: least squares, ridge regression with the
// regularisation chosen by k-fold cross-validation, and the fraction of variance explained. All in double
// precision; Eigen does the algebra behind this header (it stays out of it).
//
// Every fit has an unpenalised intercept: the features and the targets are centred on their means, the weights
// solve the centred problem, and intercept = mean(y) - mean(X) w.
#pragma once

#include <cstddef>
#include <vector>

#include "cortexlens/status.hpp"

namespace cortexlens {

// A dense row-major matrix: rows are samples (images), columns are features.
struct MatrixD {
  int rows = 0, cols = 0;
  std::vector<double> values;  // (rows, cols)
  MatrixD() = default;
  MatrixD(int r, int c, double fill = 0.0) : rows(r), cols(c), values(static_cast<std::size_t>(r) * c, fill) {}
  double& at(int r, int c) { return values[static_cast<std::size_t>(r) * cols + c]; }
  double at(int r, int c) const { return values[static_cast<std::size_t>(r) * cols + c]; }
};

struct LinearFit {
  std::vector<double> weights;  // (cols)
  double intercept = 0.0;
  double lambda = 0.0;  // the ridge penalty the weights were fitted with (absolute, in units of |X|^2)
};

// Minimises |y - X w - intercept|^2 + lambda |w|^2 (lambda >= 0; 0 is ordinary least squares). With at least as
// many samples as features it solves the normal equations (X'X + lambda I) w = X'y by LDLT; with fewer, the dual
// form w = X' (X X' + lambda I)^-1 y (the same solution, from a rows x rows system). Refused: shapes that do not
// match, fewer than 2 samples, non-finite values, and (lambda = 0) a system too singular to solve.
Result<LinearFit> fit_ridge(const MatrixD& x, const std::vector<double>& y, double lambda);

// The penalties fit_ridge_cv tries: lambda = factor x trace(Xc'Xc) / cols (the mean feature sum of squares), so
// the grid means the same thing whatever the features' scale. 10^-6 .. 10^3 in half decades.
std::vector<double> default_relative_lambdas();

struct RidgeSelection {
  LinearFit fit;                        // on all rows, with the chosen lambda
  std::vector<double> lambdas;          // absolute penalties tried
  std::vector<double> cv_mean_squared;  // held-out mean squared error of each
  std::size_t chosen = 0;               // index of the smallest error (the larger lambda on a tie)
};

// k-fold cross-validation over `relative_lambdas` (see default_relative_lambdas): row i is held out in fold
// i % folds, so the result is deterministic. Needs folds >= 2 and rows >= 2 * folds.
Result<RidgeSelection> fit_ridge_cv(const MatrixD& x, const std::vector<double>& y, int folds = 5,
                                    std::vector<double> relative_lambdas = default_relative_lambdas());

std::vector<double> predict_linear(const LinearFit& fit, const MatrixD& x);

// 1 - sum (target - prediction)^2 / sum (target - mean target)^2. 1 is perfect; it can be negative. NaN when the
// target is constant or the sizes differ.
double fraction_variance_explained(const std::vector<double>& target, const std::vector<double>& prediction);

// Pearson correlation in double precision; NaN when either side is constant or the sizes differ.
double correlation(const std::vector<double>& a, const std::vector<double>& b);

// A 95% confidence interval for a Pearson r over n samples by the Fisher z transform:
// tanh(atanh(r) -+ 1.96 / sqrt(n - 3)). NaN bounds when n < 4 or r is NaN.
struct Interval {
  double low = 0.0, high = 0.0;
};
Interval correlation_interval_fisher(double r, std::size_t n);

// Multi-output least squares on the columns of one design, from its normal equations: what step 1 of pruning
// asks of a layer. The design D (n x p) enters only as its uncentred Gram D'D and its column sums; the targets are
// Y = D W for a given W (p x q), so X'Y = D'D W and Y'Y = W'D'D W need nothing more.
struct GramStatistics {
  int p = 0;
  double n = 0.0;            // rows accumulated
  std::vector<double> gram;  // (p, p) sum of d d'
  std::vector<double> sums;  // (p) sum of d
};

struct SubsetRefit {
  std::vector<double> weights;     // (kept, q): the refitted rows of W for the kept columns, in `kept` order
  std::vector<double> intercepts;  // (q): what to add to the output's bias
  double fve = 0.0;                // of D W by D_kept weights + intercepts, over all q outputs together
};

// Refits Y = D W (W row-major (p, q)) from the columns `kept` of D with an intercept per output. `ridge` (at least
// 1e-12) times the largest diagonal of the centred Gram is added to its diagonal, only to keep dead (constant)
// columns solvable; 1e-9 changes nothing else measurable.
Result<SubsetRefit> refit_from_subset(const GramStatistics& stats, const std::vector<double>& w, int q,
                                      const std::vector<int>& kept, double ridge = 1e-9);

}  // namespace cortexlens
