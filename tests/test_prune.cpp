// Regression (Eigen behind regression.hpp) against closed forms and planted weights; pruning on a small random
// model in the shared models' architecture (no data needed): restriction to one output, filter removal equal to
// zeroed outgoing weights, and a deterministic pruning run whose result is an ordinary model file.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "cortexlens/forward.hpp"
#include "cortexlens/model_file.hpp"
#include "cortexlens/prune.hpp"
#include "cortexlens/regression.hpp"
#include "cortexlens/responses.hpp"

using namespace cortexlens;

namespace {

// Solves A x = b (n x n, row-major) by Gaussian elimination with partial pivoting: the test's own closed form,
// independent of Eigen.
std::vector<double> gauss_solve(std::vector<double> a, std::vector<double> b) {
  const std::size_t n = b.size();
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < n; ++r)
      if (std::fabs(a[r * n + col]) > std::fabs(a[pivot * n + col])) pivot = r;
    for (std::size_t k = 0; k < n; ++k) std::swap(a[col * n + k], a[pivot * n + k]);
    std::swap(b[col], b[pivot]);
    for (std::size_t r = col + 1; r < n; ++r) {
      const double f = a[r * n + col] / a[col * n + col];
      for (std::size_t k = col; k < n; ++k) a[r * n + k] -= f * a[col * n + k];
      b[r] -= f * b[col];
    }
  }
  std::vector<double> x(n);
  for (std::size_t i = n; i-- > 0;) {
    double s = b[i];
    for (std::size_t k = i + 1; k < n; ++k) s -= a[i * n + k] * x[k];
    x[i] = s / a[i * n + i];
  }
  return x;
}

// Ridge with intercept in closed form: centre, then (Xc'Xc + lambda I) w = Xc'yc.
LinearFit closed_form_ridge(const MatrixD& x, const std::vector<double>& y, double lambda) {
  const int n = x.rows, p = x.cols;
  std::vector<double> mean(static_cast<std::size_t>(p), 0.0);
  double y_mean = 0;
  for (int r = 0; r < n; ++r) {
    y_mean += y[static_cast<std::size_t>(r)] / n;
    for (int c = 0; c < p; ++c) mean[static_cast<std::size_t>(c)] += x.at(r, c) / n;
  }
  std::vector<double> a(static_cast<std::size_t>(p) * p, 0.0), b(static_cast<std::size_t>(p), 0.0);
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < p; ++i) {
      const double xi = x.at(r, i) - mean[static_cast<std::size_t>(i)];
      b[static_cast<std::size_t>(i)] += xi * (y[static_cast<std::size_t>(r)] - y_mean);
      for (int j = 0; j < p; ++j)
        a[static_cast<std::size_t>(i) * p + j] += xi * (x.at(r, j) - mean[static_cast<std::size_t>(j)]);
    }
  for (int i = 0; i < p; ++i) a[static_cast<std::size_t>(i) * p + i] += lambda;
  LinearFit fit;
  fit.weights = gauss_solve(a, b);
  fit.intercept = y_mean;
  for (int c = 0; c < p; ++c)
    fit.intercept -= mean[static_cast<std::size_t>(c)] * fit.weights[static_cast<std::size_t>(c)];
  return fit;
}

MatrixD random_matrix(int rows, int cols, std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  MatrixD m(rows, cols);
  for (double& v : m.values) v = normal(rng);
  return m;
}

// A small random model in the shared models' architecture: conv 5x5 + ReLU, four separable stages (strides 2, 2,
// 1, 1), a 1x1 mixing conv to `outputs` channels and a depthwise pool over the whole map.
Model small_shared_model(int outputs, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Model m;
  m.name = "small_shared";
  m.input = {24, 24, 3};
  const int filters[5] = {6, 6, 5, 5, 4};
  Shape3 current = m.input;
  auto add = [&](LayerKind kind, int k, int stride, int out_c, Activation act, const std::string& name) {
    Layer l;
    l.kind = kind;
    l.name = name;
    l.kernel_h = l.kernel_w = k;
    l.stride_h = l.stride_w = stride;
    if (k > 1 && kind != LayerKind::dense && name != "pool") {
      auto [before, after] = same_padding(current.h, k, stride);
      l.pad = {before, after, before, after};
    }
    l.in = current;
    const int oh = conv_output_size(current.h, k, stride, l.pad.top, l.pad.bottom);
    l.out = {oh, oh, out_c};
    const std::size_t count = kind == LayerKind::depthwise_conv2d ? static_cast<std::size_t>(k) * k * current.c
                                                                  : static_cast<std::size_t>(k) * k * current.c * out_c;
    const float scale = 1.0f / std::sqrt(static_cast<float>(count / static_cast<std::size_t>(out_c) + 1));
    for (std::size_t i = 0; i < count; ++i) l.weights.push_back(normal(rng) * scale * 1.5f);
    for (int c = 0; c < out_c; ++c) l.bias.push_back(kind == LayerKind::depthwise_conv2d ? 0.0f : 0.1f * normal(rng));
    l.activation = act;
    current = l.out;
    m.layers.push_back(l);
  };
  add(LayerKind::conv2d, 5, 1, filters[0], Activation::relu, "layer0_conv");
  const int strides[4] = {2, 2, 1, 1};
  for (int s = 1; s < 5; ++s) {
    add(LayerKind::depthwise_conv2d, 5, strides[s - 1], current.c, Activation::linear,
        "layer" + std::to_string(s) + "_conv/depthwise");
    add(LayerKind::conv2d, 1, 1, filters[s], Activation::relu, "layer" + std::to_string(s) + "_conv");
  }
  add(LayerKind::conv2d, 1, 1, outputs, Activation::linear, "mixing_stage");
  const int map = current.h;
  add(LayerKind::depthwise_conv2d, map, 1, outputs, Activation::linear, "pool");
  for (int o = 0; o < outputs; ++o) m.output_names.push_back("out" + std::to_string(o));
  REQUIRE(validate_model(m));
  return m;
}

std::vector<Tensor> random_inputs(const Shape3& shape, int count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pixel(-110.0f, 140.0f);
  std::vector<Tensor> inputs;
  for (int i = 0; i < count; ++i) {
    Tensor t(shape);
    // Smooth random blobs rather than white noise, so filters differ in how much they vary.
    const float fx = pixel(rng) / 400.0f, fy = pixel(rng) / 400.0f, phase = pixel(rng) / 30.0f;
    for (int y = 0; y < shape.h; ++y)
      for (int x = 0; x < shape.w; ++x)
        for (int c = 0; c < shape.c; ++c)
          t.at(y, x, c) = 80.0f * std::sin(fx * x + fy * y + phase + c) + 0.2f * pixel(rng);
    inputs.push_back(t);
  }
  return inputs;
}

float output_of(const Model& m, const Tensor& input, std::size_t k = 0) {
  auto r = forward(m, input);
  REQUIRE(r);
  return r.value().outputs[k];
}

// Zeroes what filter j of stage s sends on (the next depthwise channel and pointwise row, or the readout's rows).
Model with_outgoing_zeroed(Model m, int stage, int j) {
  auto layout = prunable_layout(m);
  REQUIRE(layout);
  const std::size_t li = static_cast<std::size_t>(layout->filter_layers[static_cast<std::size_t>(stage)]);
  const int count = m.layers[li].out.c;
  auto zero_rows = [&](Layer& l) {
    const std::size_t cols = static_cast<std::size_t>(l.out.c);
    for (std::size_t r = 0; r < l.weights.size() / cols; ++r)
      if (static_cast<int>(r % static_cast<std::size_t>(count)) == j)
        for (std::size_t o = 0; o < cols; ++o) l.weights[r * cols + o] = 0.0f;
  };
  if (stage + 1 < static_cast<int>(layout->filter_layers.size())) {
    Layer& dw = m.layers[li + 1];
    for (std::size_t k = static_cast<std::size_t>(j); k < dw.weights.size(); k += static_cast<std::size_t>(count))
      dw.weights[k] = 0.0f;
    zero_rows(m.layers[li + 2]);
  } else {
    zero_rows(m.layers[li + 1]);
  }
  return m;
}

#ifndef __EMSCRIPTEN__
Status two_threads(std::size_t count, const std::function<Status(int, std::size_t)>& job) {
  std::vector<Status> results(count, Status::ok());
  std::atomic<std::size_t> next{0};
  auto work = [&](int worker) {
    for (std::size_t i; (i = next++) < count;) results[i] = job(worker, i);
  };
  std::thread other(work, 1);
  work(0);
  other.join();
  for (const auto& s : results)
    if (!s) return s;
  return Status::ok();
}
#endif

}  // namespace

TEST_CASE("ridge and least squares match the closed form to 1e-9", "[regression]") {
  std::mt19937 rng(3);
  for (double lambda : {0.0, 0.7, 25.0}) {
    const MatrixD x = random_matrix(9, 3, rng);
    std::vector<double> y(9);
    for (int r = 0; r < 9; ++r) y[static_cast<std::size_t>(r)] = 2.0 - x.at(r, 0) + 0.5 * x.at(r, 2) + 0.1 * r;
    auto fit = fit_ridge(x, y, lambda);
    REQUIRE(fit);
    const LinearFit expected = closed_form_ridge(x, y, lambda);
    for (int c = 0; c < 3; ++c)
      CHECK(fit->weights[static_cast<std::size_t>(c)] ==
            Approx(expected.weights[static_cast<std::size_t>(c)]).margin(1e-9));
    CHECK(fit->intercept == Approx(expected.intercept).margin(1e-9));
  }
  SECTION("the dual form (fewer samples than features) gives the primal solution") {
    const MatrixD x = random_matrix(5, 12, rng);
    std::vector<double> y = {1.0, -2.0, 0.5, 3.0, 0.25};
    auto fit = fit_ridge(x, y, 0.3);
    REQUIRE(fit);
    const LinearFit expected = closed_form_ridge(x, y, 0.3);
    for (int c = 0; c < 12; ++c)
      CHECK(fit->weights[static_cast<std::size_t>(c)] ==
            Approx(expected.weights[static_cast<std::size_t>(c)]).margin(1e-9));
    CHECK(fit->intercept == Approx(expected.intercept).margin(1e-9));
  }
  SECTION("bad input is refused with a message") {
    CHECK_FALSE(fit_ridge(MatrixD(1, 2), {1.0}, 0.0));
    CHECK(fit_ridge(MatrixD(3, 2), {1.0, 2.0}, 0.0).message().find("3 rows") != std::string::npos);
    CHECK_FALSE(fit_ridge(MatrixD(3, 2), {1.0, 2.0, 3.0}, -1.0));
    // Least squares on two identical columns: singular, refused rather than returning garbage.
    MatrixD twins(6, 2);
    for (int r = 0; r < 6; ++r) twins.at(r, 0) = twins.at(r, 1) = r;
    CHECK(fit_ridge(twins, {0, 1, 2, 3, 4, 5}, 0.0).message().find("singular") != std::string::npos);
  }
}

TEST_CASE("cross-validated ridge recovers planted weights", "[regression]") {
  std::mt19937 rng(5);
  const MatrixD x = random_matrix(400, 8, rng);
  const std::vector<double> planted = {1.5, -2.0, 0.0, 0.75, 3.0, -0.5, 0.0, 1.0};
  std::normal_distribution<double> noise(0.0, 0.05);
  std::vector<double> y(400);
  for (int r = 0; r < 400; ++r) {
    double s = 4.0;
    for (int c = 0; c < 8; ++c) s += planted[static_cast<std::size_t>(c)] * x.at(r, c);
    y[static_cast<std::size_t>(r)] = s + noise(rng);
  }
  auto cv = fit_ridge_cv(x, y, 5);
  REQUIRE(cv);
  for (int c = 0; c < 8; ++c)
    CHECK(cv->fit.weights[static_cast<std::size_t>(c)] == Approx(planted[static_cast<std::size_t>(c)]).margin(0.02));
  CHECK(cv->fit.intercept == Approx(4.0).margin(0.02));
  CHECK(fraction_variance_explained(y, predict_linear(cv->fit, x)) > 0.999);

  SECTION("wide design (dual form): the penalty is chosen and the prediction generalises") {
    const MatrixD w = random_matrix(120, 300, rng);
    std::vector<double> target(120);
    for (int r = 0; r < 120; ++r) target[static_cast<std::size_t>(r)] = w.at(r, 0) - w.at(r, 1) + 0.01 * noise(rng);
    auto wide = fit_ridge_cv(w, target, 4);
    REQUIRE(wide);
    CHECK(wide->chosen < wide->lambdas.size());
    CHECK(fraction_variance_explained(target, predict_linear(wide->fit, w)) > 0.9);
  }
}

TEST_CASE("fraction of variance explained, correlation and its Fisher interval", "[regression]") {
  CHECK(fraction_variance_explained({1, 2, 3}, {1, 2, 3}) == 1.0);
  CHECK(fraction_variance_explained({1, 2, 3}, {2, 2, 2}) == Approx(0.0));
  CHECK(std::isnan(fraction_variance_explained({1, 1}, {1, 2})));
  CHECK(correlation({1, 2, 3}, {2, 4, 6.5}) == Approx(0.9979487).epsilon(1e-6));
  const Interval ci = correlation_interval_fisher(0.5, 103);
  CHECK(ci.low == Approx(0.3393075).margin(1e-6));
  CHECK(ci.high == Approx(0.6323382).margin(1e-6));
}

TEST_CASE("a subset refit from the Gram matrix equals least squares on the kept columns", "[regression]") {
  std::mt19937 rng(9);
  const MatrixD d = random_matrix(200, 6, rng);
  const MatrixD wm = random_matrix(6, 3, rng);
  GramStatistics stats;
  stats.p = 6;
  stats.n = 200;
  stats.gram.assign(36, 0.0);
  stats.sums.assign(6, 0.0);
  for (int r = 0; r < 200; ++r)
    for (int i = 0; i < 6; ++i) {
      stats.sums[static_cast<std::size_t>(i)] += d.at(r, i);
      for (int j = 0; j < 6; ++j) stats.gram[static_cast<std::size_t>(i) * 6 + j] += d.at(r, i) * d.at(r, j);
    }
  const std::vector<int> kept = {0, 2, 5};
  auto refit = refit_from_subset(stats, wm.values, 3, kept, 0.0);
  REQUIRE(refit);
  MatrixD dk(200, 3);
  for (int r = 0; r < 200; ++r)
    for (int k = 0; k < 3; ++k) dk.at(r, k) = d.at(r, kept[static_cast<std::size_t>(k)]);
  double residual = 0, total = 0;
  for (int o = 0; o < 3; ++o) {
    std::vector<double> y(200);
    for (int r = 0; r < 200; ++r)
      for (int i = 0; i < 6; ++i) y[static_cast<std::size_t>(r)] += d.at(r, i) * wm.at(i, o);
    const LinearFit expected = closed_form_ridge(dk, y, 0.0);
    for (int k = 0; k < 3; ++k)
      CHECK(refit->weights[static_cast<std::size_t>(k) * 3 + o] ==
            Approx(expected.weights[static_cast<std::size_t>(k)]).margin(1e-9));
    CHECK(refit->intercepts[static_cast<std::size_t>(o)] == Approx(expected.intercept).margin(1e-9));
    const std::vector<double> predicted = predict_linear(expected, dk);
    double mean = 0;
    for (double v : y) mean += v / 200;
    for (int r = 0; r < 200; ++r) {
      residual += (y[static_cast<std::size_t>(r)] - predicted[static_cast<std::size_t>(r)]) *
                  (y[static_cast<std::size_t>(r)] - predicted[static_cast<std::size_t>(r)]);
      total += (y[static_cast<std::size_t>(r)] - mean) * (y[static_cast<std::size_t>(r)] - mean);
    }
  }
  CHECK(refit->fve == Approx(1.0 - residual / total).margin(1e-9));
  // All columns kept: the targets are reproduced exactly.
  auto all = refit_from_subset(stats, wm.values, 3, {0, 1, 2, 3, 4, 5}, 0.0);
  REQUIRE(all);
  CHECK(all->fve == Approx(1.0).margin(1e-12));
}

TEST_CASE("a shared model restricted to one output computes that output", "[prune]") {
  const Model shared = small_shared_model(3, 21);
  CHECK_FALSE(prunable_layout(shared));  // three outputs: restrict first
  const auto inputs = random_inputs(shared.input, 3, 4);
  for (int k = 0; k < 3; ++k) {
    auto restricted = restrict_to_output(shared, k);
    REQUIRE(restricted);
    CHECK(restricted->output_names == std::vector<std::string>{"out" + std::to_string(k)});
    auto layout = prunable_layout(restricted.value());
    REQUIRE(layout);
    CHECK(layout->readout == ReadoutKind::factorised);
    CHECK(filters_per_stage(restricted.value(), layout.value()) == std::vector<int>{6, 6, 5, 5, 4});
    for (const auto& input : inputs)
      CHECK(output_of(restricted.value(), input) ==
            Approx(output_of(shared, input, static_cast<std::size_t>(k))).epsilon(1e-5).margin(1e-5));
  }
  CHECK(restrict_to_output(shared, 3).message().find("expected 0..2") != std::string::npos);
}

TEST_CASE("removing a filter equals zeroing its outgoing weights", "[prune]") {
  auto restricted = restrict_to_output(small_shared_model(2, 33), 1);
  REQUIRE(restricted);
  auto dense = with_dense_readout(restricted.value(), std::vector<double>(6 * 6 * 4, 0.01), 0.5, "dense_readout");
  REQUIRE(dense);
  const auto inputs = random_inputs(restricted->input, 3, 8);
  for (const Model* model : {&restricted.value(), &dense.value()}) {
    for (int stage = 0; stage < 5; ++stage)
      for (int j : {0, 2}) {
        auto removed = remove_filters(*model, stage, {j});
        REQUIRE(removed);
        const Model zeroed = with_outgoing_zeroed(*model, stage, j);
        auto layout = prunable_layout(removed.value());
        REQUIRE(layout);
        CHECK(parameter_count(removed.value()) < parameter_count(*model));
        for (const auto& input : inputs)
          CHECK(output_of(removed.value(), input) == Approx(output_of(zeroed, input)).epsilon(1e-5).margin(1e-5));
      }
  }
  CHECK(remove_filters(restricted.value(), 4, {0, 1, 2, 3}).message().find("at least one kept") != std::string::npos);
  CHECK(remove_filters(restricted.value(), 5, {0}).message().find("expected 0..4") != std::string::npos);
  CHECK(remove_filters(restricted.value(), 0, {6}).message().find("not 6") != std::string::npos);
}

TEST_CASE("pruning is deterministic and gives an ordinary model file", "[prune]") {
  auto restricted = restrict_to_output(small_shared_model(2, 45), 0);
  REQUIRE(restricted);
  PruneData data;
  data.fit_inputs = random_inputs(restricted->input, 60, 12);
  data.eval_inputs = random_inputs(restricted->input, 20, 13);
  PruneOptions serial;
  auto targets = predict_all(restricted.value(), data.fit_inputs, serial);
  REQUIRE(targets);
  data.fit_targets = targets.value();
  auto eval = predict_all(restricted.value(), data.eval_inputs, serial);
  REQUIRE(eval);
  data.eval_responses = eval.value();
  serial.fve_threshold = 0.9;
  serial.delta_threshold = -0.02;
  std::vector<PruneEvent> events;
  serial.on_event = [&](const PruneEvent& e) { events.push_back(e); };
  auto first = prune_model(restricted.value(), data, serial);
  INFO(first.message());
  REQUIRE(first);
  REQUIRE(events.size() == first->events.size());
  REQUIRE(events.size() >= 2);  // the start and at least one removal
  CHECK(events.front().step == 0);
  CHECK(events.front().fve == Approx(1.0).margin(1e-6));
  CHECK(events.front().heldout_r == Approx(1.0).margin(1e-6));
  CHECK(parameter_count(first->model) < parameter_count(restricted.value()));
  for (std::size_t i = 1; i < events.size(); ++i) {
    CHECK(events[i].params < events[i - 1].params);
    if (events[i].step == 3) CHECK(events[i].fve - events[i - 1].fve >= -0.02 - 1e-9);
  }
  // Bookkeeping: the kept filters per stage match the model.
  auto layout = prunable_layout(first->model);
  REQUIRE(layout);
  const auto counts = filters_per_stage(first->model, layout.value());
  for (std::size_t s = 0; s < counts.size(); ++s) CHECK(static_cast<int>(first->kept[s].size()) == counts[s]);

  SECTION("the same result again, and on two threads") {
    PruneOptions again = serial;
    again.on_event = nullptr;
    auto second = prune_model(restricted.value(), data, again);
    REQUIRE(second);
    PruneOptions threaded = again;
#ifndef __EMSCRIPTEN__
    threaded.workers = 2;
    threaded.parallel = two_threads;
#endif
    auto third = prune_model(restricted.value(), data, threaded);
    REQUIRE(third);
    for (const auto* other : {&second.value(), &third.value()}) {
      REQUIRE(other->model.layers.size() == first->model.layers.size());
      for (std::size_t l = 0; l < other->model.layers.size(); ++l) {
        CHECK(other->model.layers[l].weights == first->model.layers[l].weights);
        CHECK(other->model.layers[l].bias == first->model.layers[l].bias);
      }
      CHECK(other->kept == first->kept);
    }
  }
  SECTION("a run stepped unit by unit (the page's worker) gives prune_model's events and model") {
    PruneOptions stepped = serial;
    stepped.on_event = nullptr;
    auto run = PruneRun::create(restricted.value(), std::make_shared<PruneData>(data), stepped);
    REQUIRE(run);
    CHECK(run->events().size() == 1);
    CHECK(run->progress().phase == PrunePhase::step1);
    CHECK(run->progress().step1_stage == 4);
    int units = 0, saw_step3_start = 0;
    while (!run->done()) {
      REQUIRE(run->advance());
      ++units;
      const PruneProgress p = run->progress();
      if (p.phase == PrunePhase::step3 && p.step3_started) {
        saw_step3_start = 1;
        CHECK(p.candidates_checked <= p.candidates);
      }
    }
    CHECK(saw_step3_start == 1);
    CHECK(units > 5);  // five stages of step 1, step 3's start, and its candidates one at a time
    REQUIRE(run->events().size() == first->events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      CHECK(run->events()[i].filters == first->events[i].filters);
      CHECK(run->events()[i].stage == first->events[i].stage);
      CHECK(run->events()[i].fve == first->events[i].fve);
    }
    for (std::size_t l = 0; l < first->model.layers.size(); ++l)
      CHECK(run->model().layers[l].weights == first->model.layers[l].weights);
    CHECK(run->advance());  // nothing more to do once done
    CHECK(run->events().size() == first->events.size());

    // Stopping between units (cancel) keeps a valid model with the events so far.
    auto cut = PruneRun::create(restricted.value(), std::make_shared<PruneData>(data), stepped);
    REQUIRE(cut);
    for (int i = 0; i < 3; ++i) REQUIRE(cut->advance());
    CHECK_FALSE(cut->done());
    REQUIRE(cut->events().size() <= first->events.size());
    for (std::size_t i = 0; i < cut->events().size(); ++i) CHECK(cut->events()[i].filters == first->events[i].filters);
    CHECK(validate_model(cut->model()));
    CHECK(parameter_count(cut->model()) == cut->events().back().params);
  }
  SECTION("the pruned model saves and loads as a .clm file") {
    ModelFileMetadata meta;
    meta.source = "test";
    meta.channel_means = {0, 0, 0};
    auto tv = make_test_vector(first->model, first->model, meta.channel_means);
    REQUIRE(tv);
    auto bytes = write_model_file(first->model, meta, tv.value());
    REQUIRE(bytes);
    auto loaded = read_model_file(bytes->data(), bytes->size());
    REQUIRE(loaded);
    CHECK(output_of(loaded->model, data.eval_inputs[0]) == output_of(first->model, data.eval_inputs[0]));
  }
  SECTION("thresholds out of range are refused") {
    PruneOptions bad;
    bad.delta_threshold = 0.5;
    CHECK(prune_model(restricted.value(), data, bad).message().find("expected a number <= 0") != std::string::npos);
    PruneData few = data;
    few.fit_inputs.resize(5);
    few.fit_targets.resize(5);
    CHECK(prune_model(restricted.value(), few, PruneOptions()).message().find("at least 10") != std::string::npos);
  }
}

TEST_CASE("fit check: a readout planted on a model's features is recovered from noisy responses", "[prune]") {
  auto restricted = restrict_to_output(small_shared_model(2, 57), 0);
  REQUIRE(restricted);
  auto base = with_dense_readout(restricted.value(), {}, 0.0, "fitted");
  REQUIRE(base);
  auto layout = prunable_layout(base.value());
  REQUIRE(layout);
  // A smooth planted readout: one spatial bump over two channels, as a neuron's receptive field might be.
  const Shape3 map = base->layers.back().in;
  std::vector<double> planted(map.size(), 0.0);
  for (int y = 0; y < map.h; ++y)
    for (int x = 0; x < map.w; ++x) {
      const double bump = std::exp(-((y - 2.0) * (y - 2.0) + (x - 3.0) * (x - 3.0)) / 3.0);
      planted[(static_cast<std::size_t>(y) * map.w + x) * map.c + 0] = bump;
      planted[(static_cast<std::size_t>(y) * map.w + x) * map.c + 2] = -0.5 * bump;
    }
  constexpr int kImages = 400;
  const auto inputs = random_inputs(base->input, kImages, 77);
  auto features = readout_features(base.value(), layout.value(), inputs, PruneOptions());
  REQUIRE(features);
  MatrixD x;
  x.rows = features->rows;
  x.cols = features->cols;
  x.values = features->values;
  std::vector<double> clean(kImages, 1.0);
  for (int r = 0; r < kImages; ++r)
    for (int c = 0; c < x.cols; ++c)
      clean[static_cast<std::size_t>(r)] += x.at(r, c) * planted[static_cast<std::size_t>(c)];
  // Noise at a third of the signal's spread: a noisy neuron.
  double mean = 0, spread = 0;
  for (double v : clean) mean += v / kImages;
  for (double v : clean) spread += (v - mean) * (v - mean) / kImages;
  std::mt19937 rng(2);
  std::normal_distribution<double> noise(0.0, std::sqrt(spread) / 3.0);
  MatrixD fit_x(kImages - kImages / 5, x.cols), held_x(kImages / 5, x.cols);
  std::vector<double> fit_y, held_clean;
  for (int r = 0; r < kImages; ++r) {
    MatrixD& target = r % 5 == 4 ? held_x : fit_x;
    const int row = r % 5 == 4 ? r / 5 : r - r / 5;
    for (int c = 0; c < x.cols; ++c) target.at(row, c) = x.at(r, c);
    if (r % 5 == 4)
      held_clean.push_back(clean[static_cast<std::size_t>(r)]);
    else
      fit_y.push_back(clean[static_cast<std::size_t>(r)] + noise(rng));
  }
  auto cv = fit_ridge_cv(fit_x, fit_y, 5);
  REQUIRE(cv);
  // Held-out prediction against the noiseless responses.
  CHECK(correlation(predict_linear(cv->fit, held_x), held_clean) > 0.9);
  // And the fitted model, run through the engine, predicts what the readout says.
  auto fitted = with_dense_readout(restricted.value(), cv->fit.weights, cv->fit.intercept, "fitted");
  REQUIRE(fitted);
  auto predicted = predict_all(fitted.value(), {inputs[4]}, PruneOptions());
  REQUIRE(predicted);
  CHECK(predicted.value()[0] == Approx(predict_linear(cv->fit, held_x)[0]).epsilon(1e-4).margin(1e-4));
}

TEST_CASE("fit_neuron: every 5th row held out, a readout that recovers planted responses, bad sizes refused",
          "[prune]") {
  auto restricted = restrict_to_output(small_shared_model(2, 57), 0);
  REQUIRE(restricted);
  // Responses planted through the shared model's own output (a readout fit_neuron can represent exactly), plus
  // noise at a quarter of their spread.
  constexpr int kImages = 250;
  const auto inputs = random_inputs(restricted->input, kImages, 91);
  auto clean = predict_all(restricted.value(), inputs, PruneOptions());
  REQUIRE(clean);
  double mean = 0, spread = 0;
  for (double v : clean.value()) mean += v / kImages;
  for (double v : clean.value()) spread += (v - mean) * (v - mean) / kImages;
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0.0, std::sqrt(spread) / 4.0);
  std::vector<double> noisy = clean.value();
  for (double& v : noisy) v += noise(rng);

  auto fit = fit_neuron(restricted.value(), inputs, noisy, "planted", PruneOptions());
  REQUIRE(fit);
  CHECK(fit->fit_images == 200);
  CHECK(fit->heldout_images == 50);
  CHECK(fit->model.output_names == std::vector<std::string>{"planted"});
  CHECK(fit->lambda > 0);
  // r against the noisy held-out responses is what it reports; against the noiseless ones it is higher.
  std::vector<Tensor> held;
  std::vector<double> held_noisy, held_clean;
  for (int i = 4; i < kImages; i += 5) {
    held.push_back(inputs[static_cast<std::size_t>(i)]);
    held_noisy.push_back(noisy[static_cast<std::size_t>(i)]);
    held_clean.push_back(clean.value()[static_cast<std::size_t>(i)]);
  }
  auto predicted = predict_all(fit->model, held, PruneOptions());
  REQUIRE(predicted);
  CHECK(fit->heldout_r == Approx(correlation(predicted.value(), held_noisy)).margin(1e-12));
  CHECK(correlation(predicted.value(), held_clean) > 0.95);
  CHECK(fit->heldout_ci.low < fit->heldout_r);
  CHECK(fit->heldout_ci.high > fit->heldout_r);

  auto mismatched = fit_neuron(restricted.value(), inputs, std::vector<double>(kImages - 1, 1.0), "x", {});
  REQUIRE_FALSE(mismatched);
  CHECK_THAT(mismatched.status().message(), Catch::Contains("expected one response per image"));
  const std::vector<Tensor> few(inputs.begin(), inputs.begin() + 20);
  auto too_few = fit_neuron(restricted.value(), few, std::vector<double>(noisy.begin(), noisy.begin() + 20), "x", {});
  REQUIRE_FALSE(too_few);
  CHECK_THAT(too_few.status().message(), Catch::Contains("expected at least 50"));
}
