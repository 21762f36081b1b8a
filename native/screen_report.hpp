// What `cortexlens screen` reports per model output, and the two files it writes (CSV, JSON): the strongest and
// weakest images with their responses, response quantiles, and how many images had a response.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace cortexlens {

// The percentiles reported, NumPy's default ("linear") definition.
inline const std::vector<double> kScreenPercentiles = {0, 1, 5, 25, 50, 75, 95, 99, 100};

// NumPy's np.percentile(values, p) with method="linear" (its default) on ascending `sorted` values, reproducing
// its arithmetic: position (n - 1) * (p / 100), the difference of the neighbours in float32 (NumPy subtracts in
// the array's dtype), the interpolation in float64, from the upper neighbour when the fraction is >= 0.5.
// Precondition: sorted is not empty.
double numpy_percentile_linear(const std::vector<float>& sorted, double p);

struct RankedImage {
  std::size_t image = 0;  // index into the run's images
  float response = 0;
};

struct OutputSummary {
  std::size_t images = 0;                // images with a finite response
  std::vector<RankedImage> top, bottom;  // strongest first, weakest first; min(k, images) each
  std::vector<double> quantiles;         // one per kScreenPercentiles; empty when images == 0
};

// responses: (images) one per image of the run, NaN where the image has none (it failed to decode). Ties keep image
// order (the earlier image ranks first, in top and bottom alike), so a summary never depends on timing.
OutputSummary summarize_output(const std::vector<float>& responses, std::size_t k);

struct ImageFailure {
  std::size_t image = 0;  // index into the run's images
  std::string message;
};

struct ScreenReport {
  struct Output {
    std::string name;
    OutputSummary summary;
  };
  struct ModelReport {
    std::string name;  // the model file's name, without its folder
    std::string precision;
    std::vector<Output> outputs;
  };
  std::vector<std::string> image_names;  // every image of the run, in run order
  std::vector<ImageFailure> failures;    // in image order
  std::size_t top_k = 0;
  std::vector<ModelReport> models;
};

// CSV with the header model,output,kind,rank_or_percentile,image,response: per output, kind "top" and "bottom"
// rows (rank 1 is the strongest, respectively the weakest), "quantile" rows (the percentile; no image), and
// "count" rows ("images" with a response, "failures": images that failed to decode). Then one comment line per
// failed image: "# failed: <image>: <message>". Fields with commas, quotes or line breaks are quoted (RFC 4180).
// Responses are printed with 9 significant digits, which read back as the same float32.
std::string screen_csv(const ScreenReport& report);

// The same content as JSON: {"images": N, "failures": [{"image", "message"}], "top": K, "models": [{"model",
// "precision", "outputs": [{"output", "images", "failures", "top": [{"rank", "image", "response"}], "bottom": [...],
// "quantiles": [{"percentile", "response"}]}]}]}.
std::string screen_json(const ScreenReport& report);

}  // namespace cortexlens
