#include "cortexlens/regression.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace cortexlens {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRowMap = Eigen::Map<const RowMatrix>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Status check_design(const MatrixD& x, const std::vector<double>& y) {
  if (x.rows < 2 || x.cols < 1)
    return Status::error("regression: design has " + std::to_string(x.rows) + " rows and " + std::to_string(x.cols) +
                         " columns, expected at least 2 rows and 1 column");
  if (x.values.size() != static_cast<std::size_t>(x.rows) * x.cols)
    return Status::error("regression: design holds " + std::to_string(x.values.size()) + " values, expected " +
                         std::to_string(static_cast<std::size_t>(x.rows) * x.cols));
  if (y.size() != static_cast<std::size_t>(x.rows))
    return Status::error("regression: " + std::to_string(y.size()) + " targets for " + std::to_string(x.rows) +
                         " rows, expected one per row");
  for (double v : x.values)
    if (!std::isfinite(v)) return Status::error("regression: the design holds a non-finite value");
  for (double v : y)
    if (!std::isfinite(v)) return Status::error("regression: a target is not a finite number");
  return Status::ok();
}

// A pivot of the factorisation that is zero next to the largest (relative to rounding): the system has no unique
// solution.
bool singular(const Eigen::LDLT<Eigen::MatrixXd>& ldlt) {
  const Eigen::VectorXd d = ldlt.vectorD().cwiseAbs();
  return d.size() == 0 || !(d.minCoeff() > 1e-12 * d.maxCoeff());
}

// The centred problem on a set of rows: solves for w, returns the fit with its intercept.
LinearFit solve_centred(const Eigen::MatrixXd& xc, const Eigen::VectorXd& yc, const Eigen::RowVectorXd& x_mean,
                        double y_mean, double lambda, bool& ok) {
  Eigen::VectorXd w;
  ok = true;
  if (xc.rows() >= xc.cols()) {
    Eigen::MatrixXd a = xc.transpose() * xc;
    a.diagonal().array() += lambda;
    Eigen::LDLT<Eigen::MatrixXd> ldlt(a);
    w = ldlt.solve(xc.transpose() * yc);
    if (ldlt.info() != Eigen::Success || (lambda == 0 && singular(ldlt))) ok = false;
  } else {
    Eigen::MatrixXd k = xc * xc.transpose();
    k.diagonal().array() += lambda;
    Eigen::LDLT<Eigen::MatrixXd> ldlt(k);
    // With lambda = 0 the centred kernel is singular (its rows sum to zero): least squares needs rows > cols.
    if (ldlt.info() != Eigen::Success || singular(ldlt)) ok = false;
    w = xc.transpose() * ldlt.solve(yc);
  }
  if (!w.allFinite()) ok = false;
  LinearFit fit;
  fit.weights.assign(w.data(), w.data() + w.size());
  fit.intercept = y_mean - x_mean.dot(w);
  fit.lambda = lambda;
  return fit;
}

Result<LinearFit> fit_rows(const MatrixD& x, const std::vector<double>& y, const std::vector<int>& rows,
                           double lambda) {
  const ConstRowMap all(x.values.data(), x.rows, x.cols);
  Eigen::MatrixXd xs(static_cast<Eigen::Index>(rows.size()), x.cols);
  Eigen::VectorXd ys(static_cast<Eigen::Index>(rows.size()));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    xs.row(static_cast<Eigen::Index>(i)) = all.row(rows[i]);
    ys(static_cast<Eigen::Index>(i)) = y[static_cast<std::size_t>(rows[i])];
  }
  const Eigen::RowVectorXd x_mean = xs.colwise().mean();
  const double y_mean = ys.mean();
  xs.rowwise() -= x_mean;
  ys.array() -= y_mean;
  bool ok = true;
  LinearFit fit = solve_centred(xs, ys, x_mean, y_mean, lambda, ok);
  if (!ok)
    return Status::error("regression: the normal equations are singular (" + std::to_string(rows.size()) +
                         " samples, " + std::to_string(x.cols) +
                         " features, no regularisation): use a ridge penalty or fewer features");
  return fit;
}

std::vector<int> all_rows(int n) {
  std::vector<int> rows(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) rows[static_cast<std::size_t>(i)] = i;
  return rows;
}

}  // namespace

Result<LinearFit> fit_ridge(const MatrixD& x, const std::vector<double>& y, double lambda) {
  CL_RETURN_IF_ERROR(check_design(x, y));
  if (!(lambda >= 0) || !std::isfinite(lambda))
    return Status::error("regression: lambda is " + std::to_string(lambda) + ", expected a finite number >= 0");
  return fit_rows(x, y, all_rows(x.rows), lambda);
}

std::vector<double> default_relative_lambdas() {
  std::vector<double> lambdas;
  for (int half_decades = -12; half_decades <= 6; ++half_decades) lambdas.push_back(std::pow(10.0, half_decades / 2.0));
  return lambdas;
}

Result<RidgeSelection> fit_ridge_cv(const MatrixD& x, const std::vector<double>& y, int folds,
                                    std::vector<double> relative_lambdas) {
  CL_RETURN_IF_ERROR(check_design(x, y));
  if (folds < 2 || x.rows < 2 * folds)
    return Status::error("regression: " + std::to_string(folds) + "-fold cross-validation over " +
                         std::to_string(x.rows) + " samples, expected at least 2 folds and 2 samples per fold");
  if (relative_lambdas.empty()) return Status::error("regression: no penalties to choose from");
  for (double l : relative_lambdas)
    if (!(l > 0) || !std::isfinite(l))
      return Status::error("regression: relative penalty " + std::to_string(l) + ", expected a finite number > 0");
  std::sort(relative_lambdas.begin(), relative_lambdas.end());

  const ConstRowMap all(x.values.data(), x.rows, x.cols);
  const Eigen::RowVectorXd mean = all.colwise().mean();
  const double scale = std::max((all.rowwise() - mean).squaredNorm() / x.cols, 1e-300);
  RidgeSelection selection;
  for (double l : relative_lambdas) selection.lambdas.push_back(l * scale);
  selection.cv_mean_squared.assign(selection.lambdas.size(), 0.0);
  const Eigen::Map<const Eigen::VectorXd> y_all(y.data(), x.rows);

  // Each fold is diagonalised once, so every penalty costs only a product: (A + lambda I)^-1 = V (E + lambda)^-1 V'.
  // With fewer samples than features the folds are cut out of one uncentred kernel X X' (centred algebraically),
  // so the wide design is multiplied once, not once per fold.
  const bool dual = x.rows - x.rows / folds < x.cols;
  Eigen::MatrixXd kernel;
  if (dual) kernel = all * all.transpose();
  for (int fold = 0; fold < folds; ++fold) {
    std::vector<int> train, test;
    for (int i = 0; i < x.rows; ++i) (i % folds == fold ? test : train).push_back(i);
    const auto nt = static_cast<Eigen::Index>(train.size()), nv = static_cast<Eigen::Index>(test.size());
    Eigen::VectorXd yt(nt);
    for (Eigen::Index i = 0; i < nt; ++i) yt(i) = y_all(train[static_cast<std::size_t>(i)]);
    const double y_mean = yt.mean();
    yt.array() -= y_mean;
    Eigen::MatrixXd cross;  // dual: (test, train) centred kernel; primal: (test, features) centred test rows
    Eigen::MatrixXd system;
    Eigen::VectorXd rhs;
    if (dual) {
      Eigen::MatrixXd ktt(nt, nt), kvt(nv, nt);
      for (Eigen::Index i = 0; i < nt; ++i)
        for (Eigen::Index j = 0; j < nt; ++j) ktt(i, j) = kernel(train[i], train[j]);
      for (Eigen::Index i = 0; i < nv; ++i)
        for (Eigen::Index j = 0; j < nt; ++j) kvt(i, j) = kernel(test[i], train[j]);
      const Eigen::VectorXd kt = ktt.rowwise().mean();  // x_t . mean
      const Eigen::VectorXd kv = kvt.rowwise().mean();
      const double kbar = kt.mean();
      system = ktt;
      system.colwise() -= kt;
      system.rowwise() -= kt.transpose();
      system.array() += kbar;
      cross = kvt;
      cross.colwise() -= kv;
      cross.rowwise() -= kt.transpose();
      cross.array() += kbar;
      rhs = yt;
    } else {
      Eigen::MatrixXd xt(nt, x.cols);
      for (Eigen::Index i = 0; i < nt; ++i) xt.row(i) = all.row(train[static_cast<std::size_t>(i)]);
      const Eigen::RowVectorXd mu = xt.colwise().mean();
      xt.rowwise() -= mu;
      cross.resize(nv, x.cols);
      for (Eigen::Index i = 0; i < nv; ++i) cross.row(i) = all.row(test[static_cast<std::size_t>(i)]) - mu;
      system = xt.transpose() * xt;
      rhs = xt.transpose() * yt;
    }
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(system);
    if (eig.info() != Eigen::Success) return Status::error("regression: cross-validation fold could not be solved");
    const Eigen::VectorXd projected = eig.eigenvectors().transpose() * rhs;
    for (std::size_t k = 0; k < selection.lambdas.size(); ++k) {
      const Eigen::VectorXd scaled = projected.array() / (eig.eigenvalues().array().max(0.0) + selection.lambdas[k]);
      const Eigen::VectorXd predicted = (cross * (eig.eigenvectors() * scaled)).array() + y_mean;
      for (Eigen::Index i = 0; i < nv; ++i) {
        const double e = predicted(i) - y_all(test[static_cast<std::size_t>(i)]);
        selection.cv_mean_squared[k] += e * e / x.rows;
      }
    }
  }
  // Ties (flat error curves) go to the larger penalty: the simpler model.
  for (std::size_t k = 1; k < selection.lambdas.size(); ++k)
    if (selection.cv_mean_squared[k] <= selection.cv_mean_squared[selection.chosen]) selection.chosen = k;
  auto fit = fit_rows(x, y, all_rows(x.rows), selection.lambdas[selection.chosen]);
  if (!fit) return fit.status();
  selection.fit = std::move(fit).value();
  return selection;
}

std::vector<double> predict_linear(const LinearFit& fit, const MatrixD& x) {
  std::vector<double> out(static_cast<std::size_t>(x.rows), fit.intercept);
  for (int r = 0; r < x.rows; ++r) {
    double s = fit.intercept;
    for (int c = 0; c < x.cols && c < static_cast<int>(fit.weights.size()); ++c)
      s += x.at(r, c) * fit.weights[static_cast<std::size_t>(c)];
    out[static_cast<std::size_t>(r)] = s;
  }
  return out;
}

double fraction_variance_explained(const std::vector<double>& target, const std::vector<double>& prediction) {
  if (target.size() != prediction.size() || target.empty()) return kNaN;
  double mean = 0;
  for (double t : target) mean += t;
  mean /= static_cast<double>(target.size());
  double ss_total = 0, ss_residual = 0;
  for (std::size_t i = 0; i < target.size(); ++i) {
    ss_total += (target[i] - mean) * (target[i] - mean);
    ss_residual += (target[i] - prediction[i]) * (target[i] - prediction[i]);
  }
  if (!(ss_total > 0)) return kNaN;
  return 1.0 - ss_residual / ss_total;
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size() || a.size() < 2) return kNaN;
  const double n = static_cast<double>(a.size());
  double mean_a = 0, mean_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i) mean_a += a[i], mean_b += b[i];
  mean_a /= n;
  mean_b /= n;
  double cov = 0, var_a = 0, var_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    cov += (a[i] - mean_a) * (b[i] - mean_b);
    var_a += (a[i] - mean_a) * (a[i] - mean_a);
    var_b += (b[i] - mean_b) * (b[i] - mean_b);
  }
  if (!(var_a > 0) || !(var_b > 0)) return kNaN;
  return cov / std::sqrt(var_a * var_b);
}

Interval correlation_interval_fisher(double r, std::size_t n) {
  if (n < 4 || !std::isfinite(r)) return {kNaN, kNaN};
  const double z = std::atanh(std::clamp(r, -0.999999999, 0.999999999));
  const double half = 1.959963984540054 / std::sqrt(static_cast<double>(n) - 3.0);
  return {std::tanh(z - half), std::tanh(z + half)};
}

Result<SubsetRefit> refit_from_subset(const GramStatistics& stats, const std::vector<double>& w, int q,
                                      const std::vector<int>& kept, double ridge) {
  const int p = stats.p;
  if (p < 1 || q < 1 || !(stats.n >= 2) || stats.gram.size() != static_cast<std::size_t>(p) * p ||
      stats.sums.size() != static_cast<std::size_t>(p) || w.size() != static_cast<std::size_t>(p) * q)
    return Status::error("refit: statistics of " + std::to_string(p) + " columns over " + std::to_string(stats.n) +
                         " rows with a (" + std::to_string(w.size()) + ")-value W for " + std::to_string(q) +
                         " outputs do not fit together");
  if (kept.empty()) return Status::error("refit: no columns kept, expected at least one");
  for (int k : kept)
    if (k < 0 || k >= p)
      return Status::error("refit: kept column " + std::to_string(k) + " is not in 0.." + std::to_string(p - 1));
  const Eigen::Map<const RowMatrix> g(stats.gram.data(), p, p);
  const Eigen::Map<const Eigen::VectorXd> s(stats.sums.data(), p);
  const Eigen::Map<const RowMatrix> wm(w.data(), p, q);
  const Eigen::MatrixXd gc = g - s * s.transpose() / stats.n;  // centred Gram
  const Eigen::MatrixXd gcw = gc * wm;                         // (p, q) = Dc' Yc
  const double total = (wm.transpose() * gcw).trace();         // |Yc|^2
  const int m = static_cast<int>(kept.size());
  Eigen::MatrixXd a(m, m), b(m, q);
  for (int i = 0; i < m; ++i) {
    b.row(i) = gcw.row(kept[static_cast<std::size_t>(i)]);
    for (int j = 0; j < m; ++j) a(i, j) = gc(kept[static_cast<std::size_t>(i)], kept[static_cast<std::size_t>(j)]);
  }
  // Dead filters (a ReLU that never fires) give zero columns, and the centred Gram can have pivots a rounding error
  // below zero: the jitter keeps the system definite; LDLT's own "not positive" report is not an error here.
  const double scale = std::max(a.diagonal().cwiseAbs().maxCoeff(), 1e-300);
  const double jitter = std::max(ridge, 1e-12) * scale;
  a.diagonal().array() += jitter;
  Eigen::LDLT<Eigen::MatrixXd> ldlt(a);
  const Eigen::MatrixXd fitted = ldlt.solve(b);
  if (!fitted.allFinite()) return Status::error("refit: the kept columns' normal equations could not be solved");
  // Residual |Yc - Dc_S B|^2 = |Yc|^2 - 2 tr(B' Dc_S'Yc) + tr(B' Dc_S'Dc_S B).
  const Eigen::MatrixXd a0 = a - jitter * Eigen::MatrixXd::Identity(m, m);
  const double residual = total - 2.0 * (fitted.transpose() * b).trace() + (fitted.transpose() * a0 * fitted).trace();
  SubsetRefit out;
  out.weights.resize(static_cast<std::size_t>(m) * q);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < q; ++j) out.weights[static_cast<std::size_t>(i) * q + j] = fitted(i, j);
  // intercept = mean(Y) - mean(D_S) B
  const Eigen::RowVectorXd y_mean = (s.transpose() * wm) / stats.n;
  Eigen::RowVectorXd d_mean(m);
  for (int i = 0; i < m; ++i) d_mean(i) = s(kept[static_cast<std::size_t>(i)]) / stats.n;
  const Eigen::RowVectorXd intercepts = y_mean - d_mean * fitted;
  out.intercepts.assign(intercepts.data(), intercepts.data() + q);
  out.fve = total > 0 ? 1.0 - std::max(residual, 0.0) / total : kNaN;
  return out;
}

}  // namespace cortexlens
