// Bindings for "Nearly identical images": the images along a path (a blend or a transform in N steps) and the
// population distance, the same core calls as `cortexlens path`, so the page draws and measures the same pixels.
#include "cortexlens/image_path.hpp"
#include "edge.hpp"

namespace cortexlens::wasm {

namespace {

RgbImage rgb_from(const val& image, const char* what) {
  if (image.isNull() || image.isUndefined() || !image["width"].isNumber() || !image["height"].isNumber())
    throw_js_error(std::string(what) + " must be {width, height, pixels: Uint8Array RGB}");
  RgbImage rgb;
  rgb.width = image["width"].as<int>();
  rgb.height = image["height"].as<int>();
  rgb.pixels = to_vector<std::uint8_t>(image["pixels"], what);
  return rgb;
}

ImageTransform transform_from(const val& transform) {
  if (!transform["kind"].isString() || !transform["amount"].isNumber())
    throw_js_error(
        "transform must be {kind: 'shift' | 'scale' | 'rotate' | 'contrast' | 'blur' | 'noise', amount, seed?}");
  ImageTransform parsed;
  parsed.kind = take_or_throw(transform_kind_named(transform["kind"].as<std::string>()));
  parsed.amount = transform["amount"].as<double>();
  if (transform["seed"].isNumber()) {
    const double seed = transform["seed"].as<double>();
    if (!(seed >= 0 && seed <= 9007199254740991.0) || seed != static_cast<double>(static_cast<std::uint64_t>(seed)))
      throw_js_error("transform seed must be a whole number >= 0");
    parsed.seed = static_cast<std::uint64_t>(seed);
  }
  throw_if_error(check_transform(parsed));
  return parsed;
}

// (first, second | null, transform | null, steps) -> {steps, width, height, pixels: Uint8Array (steps, H, W, 3),
// amounts: number[]}
val image_path_js(const val& first, const val& second, const val& transform, int steps) {
  const RgbImage a = rgb_from(first, "first image");
  const bool blend = !(second.isNull() || second.isUndefined());
  RgbImage b;
  ImageTransform t;
  if (blend) b = rgb_from(second, "second image");
  if (!(transform.isNull() || transform.isUndefined())) t = transform_from(transform);
  const bool transformed = !(transform.isNull() || transform.isUndefined());
  const auto path = take_or_throw(image_path(a, blend ? &b : nullptr, transformed ? &t : nullptr, steps));
  std::vector<std::uint8_t> pixels;
  pixels.reserve(path.size() * a.pixels.size());
  val amounts = val::array();
  for (std::size_t i = 0; i < path.size(); ++i) {
    pixels.insert(pixels.end(), path[i].pixels.begin(), path[i].pixels.end());
    const int step = static_cast<int>(i);
    amounts.call<void>("push", transformed ? path_amount(t, step, steps) : path_fraction(step, steps));
  }
  val out = val::object();
  out.set("steps", steps);
  out.set("width", a.width);
  out.set("height", a.height);
  out.set("pixels", uint8_array(pixels));
  out.set("amounts", amounts);
  return out;
}

// (responses, baseline: Float32Array, q25, q75: number[]) -> {distance, used}
val population_distance_js(const val& responses, const val& baseline, const val& q25, const val& q75) {
  const auto spread = spread_from_quartiles(to_vector<double>(q25, "q25"), to_vector<double>(q75, "q75"));
  const auto d = take_or_throw(
      population_distance(to_vector<float>(responses, "responses"), to_vector<float>(baseline, "baseline"), spread));
  val out = val::object();
  out.set("distance", d.distance);
  out.set("used", static_cast<double>(d.used));
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(cortexlens_path) {
  emscripten::function("imagePath", &image_path_js);
  emscripten::function("populationDistance", &population_distance_js);
}

}  // namespace cortexlens::wasm
