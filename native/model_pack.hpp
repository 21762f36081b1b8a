// Shared by `convert`, `fidelity` and `pack`: the reference (calibration) images, the session evaluation images,
// and turning a float Model into model-file bytes at either precision.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cortexlens/model_file.hpp"
#include "cortexlens/quantize.hpp"
#include "cortexlens/responses.hpp"
#include "thread_pool.hpp"
#include "v4_data.hpp"

namespace cortexlens {

inline constexpr const char* kPaperCitation =
    "Cowley, B.R., Stan, P.L., Pillow, J.W. & Smith, M.A. Compact deep neural network models of the visual cortex. "
    "Nature (2026), doi:10.1038/s41586-026-10150-1";
inline constexpr const char* kPaperSource = "cowleygroup/V4_compact_models";
// The citation inside each model file: short, since 219 files each carry it (the manifest has the full one).
inline constexpr const char* kPaperCitationShort =
    "Cowley, Stan, Pillow & Smith, Nature (2026), doi:10.1038/s41586-026-10150-1";

// Natural images used to calibrate int8 activation scales and to give each model's response distribution:
// images 1..600 of each image session (the half the authors fitted on; 601..1200 stay for evaluation), every
// `step`-th (step 6 gives 100 per session, 300 in all), decoded to model inputs.
struct ReferenceImages {
  std::vector<std::string> ids;  // "190923/0001"
  std::vector<Tensor> inputs;    // (112, 112, 3) recentred
};
Result<ReferenceImages> load_reference_images(const std::string& data_dir, int step = 6);

// Images first..last of one session, decoded to model inputs.
Result<std::vector<Tensor>> load_session_inputs(const std::string& data_dir, const std::string& session, int first,
                                                int last);

struct ConvertOptions {
  Precision precision = Precision::int8;
  double percentile = kDefaultCalibrationPercentile;  // 0: the minimum-squared-error clipping instead
  std::string source;                                 // written to the file's metadata
  // int8: when given, the already quantized model (quantize_calibrated of float_model) written instead of
  // calibrating again; must outlive the call.
  const Model* quantized = nullptr;
};

struct ConvertedModel {
  Model model;  // what the file holds (quantized for int8)
  std::vector<std::uint8_t> bytes;
};

// float_model -> file bytes. int8 needs calibration inputs (ignored for float32). The test vector is computed
// from float_model, and the bytes are read back (so every converted file has passed the loader's checks).
Result<ConvertedModel> convert_model(const Model& float_model, const ConvertOptions& options,
                                     const std::vector<Tensor>& calibration);

// The metadata source string for a model file read from `path` ("cowleygroup/V4_compact_models: <file>" for the
// published models, the file name otherwise).
std::string model_source_text(const std::string& path);
bool is_published_model_name(const std::string& name);

// Parses --percentile: a number in (50, 100] or "mse" (returned as 0). False when neither.
bool parse_percentile(const std::string& text, double& percentile);

// Default data folder: $CORTEXLENS_DATA_DIR or the one configured at build time.
std::string configured_data_dir();

Status write_file_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes);

}  // namespace cortexlens

namespace cortexlens {

// Held-out evaluation data: images 601..1200 of each image session with the recorded responses.
struct EvaluationSession {
  std::string session;
  std::vector<int> images;     // image numbers: 601..1200, or every step-th of them
  std::vector<Tensor> inputs;  // one per entry of `images`
  ResponseTable responses;     // (neurons, 1200)
};
struct EvaluationData {
  std::vector<EvaluationSession> sessions;
  // Responses of sessions without images (211022): fidelity int8-vs-float only, on `mixed_inputs`.
  std::vector<Tensor> mixed_inputs;  // every 3rd of the images of each image session: 600 at step 1
  static constexpr int first_image = 601, last_image = 1200;
};
// step > 1 takes every step-th held-out image (quick packs; the manifest records how many were used).
Result<EvaluationData> load_evaluation_data(const std::string& data_dir, int step = 1);

struct ReferenceExtreme {
  std::size_t image = 0;  // index into ReferenceImages
  float response = 0.0f;
};

// Everything the manifest says about one output of a model.
struct OutputReport {
  std::string name;              // "190923_n0"
  std::vector<float> quantiles;  // (101) 0..100th percentiles of the float responses to the reference images
  std::vector<ReferenceExtreme> top, bottom;               // (10 each) strongest and weakest reference images, float
  double int8_vs_float_r = 0;                              // on `images`
  double float_vs_recorded_r = 0, int8_vs_recorded_r = 0;  // NaN when the session's images are not available
  std::string images;                                      // which images the r values are over, e.g. "190923 601-1200"
  std::size_t image_count = 0;
};

struct PackedModel {
  ConvertedModel int8, float32;
  std::vector<OutputReport> outputs;  // one per model output
};

// Converts one model to both precisions and measures it: reference distribution (float), int8 vs float and
// both vs recorded responses on held-out images. Outputs whose name is not "<session>_n<i>" get only the
// int8-vs-float figure on the mixed images.
Result<PackedModel> pack_model(const Model& float_model, const std::string& source, const ReferenceImages& reference,
                               const EvaluationData& evaluation, double percentile);

// Float only (no int8 file, int8 figures NaN): the float file, the reference distribution of every output, and
// each output's r with its neuron's recorded responses on the held-out images of its own session (NaN for sessions
// without images). What the compression explorer needs of the shared models of other sizes, at about a third of
// pack_model's cost (no calibration, no int8 passes, no mixed-image pass).
Result<PackedModel> pack_model_float_only(const Model& float_model, const std::string& source,
                                          const ReferenceImages& reference, const EvaluationData& evaluation);

}  // namespace cortexlens

namespace cortexlens {

// The published models found in a data folder, in a stable order: per-neuron models by session then neuron number,
// then the shared models by filter count (the 100-filter one only when `shared_100_only`). The 100-filter model is
// kind "shared" (the page's population model); the others are "shared-size" (packed float only, for the
// compression explorer).
struct PublishedModel {
  std::string path;
  std::string id;       // "190923_n0", "shared_100", "shared_5"
  std::string kind;     // "neuron", "shared" or "shared-size"
  std::string session;  // per-neuron only
  int neuron = -1;
};
std::vector<PublishedModel> list_published_models(const std::string& data_dir, bool shared_100_only = true);

// parallel_for (thread_pool.hpp) for jobs that keep nothing per worker.
Status run_parallel(std::size_t count, int threads, const std::function<Status(std::size_t)>& job);

double median_of(std::vector<double> values);

// The 0..100th percentiles (101 values) of `values` (not empty), NumPy's default linear interpolation: the
// reference distribution of a manifest entry.
std::vector<float> percentiles_0_to_100(std::vector<float> values);

}  // namespace cortexlens
