// `cortexlens path`: nearly identical images. The path from an image to a second image (a pixel blend) or to its
// transformed copy (shift, scale, rotate, contrast, blur, noise; the amount in N steps), and along it the neuron's
// response (and percentile) and how far the population's response vector (a shared model's 219 outputs) has moved
// from the first image's. The page's "Nearly identical" view computes the same numbers from the same pixels.
#include <climits>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "cortexlens/fnv1a.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/image_path.hpp"
#include "cortexlens/model_runner.hpp"
#include "cortexlens/quantize.hpp"
#include "manifest_references.hpp"
#include "model_source.hpp"

namespace cortexlens::cli {

namespace {

using json = nlohmann::json;

constexpr const char* kPathUsage =
    "usage: cortexlens path MODEL IMAGE [IMAGE2] (--transform KIND=AMOUNT | IMAGE2) --steps N [--output I]\n"
    "                       [--crop X,Y,SIDE] [--seed S] [--precision float|int8] [--population SHARED_MODEL]\n"
    "                       [--manifest MANIFEST.json] [--save-images DIR]\n"
    "  The path from IMAGE (its centred square, or --crop, resized to 112x112) to IMAGE2 (its centred square: a pixel\n"
    "  blend) or to IMAGE under a transform at full amount, in N steps (2..256; step 0 is IMAGE itself):\n"
    "    shift=K (pixels right; edges repeat), scale=F (zoom about the centre), rotate=DEG (counter-clockwise),\n"
    "    contrast=F (about each channel's mean), blur=SIGMA (pixels), noise=SD (levels, fixed by --seed, default 1).\n"
    "  Transforms act on the 112x112 8-bit image the model sees, in integer arithmetic: the page draws the same\n"
    "  pixels. CSV: step,fraction,amount,response,percentile,population_distance,pixels_fnv1a\n"
    "    response: output I (default 0) of MODEL (precision: the file's own, int8 for an int8 .clm);\n"
    "    percentile: among the model's reference natural images (from --manifest, the page's manifest.json);\n"
    "    population_distance: with --population, the root mean square over the shared model's outputs of the change\n"
    "    from step 0, each output in units of its natural-image spread ((q75 - q25) / 1.349, from --manifest);\n"
    "    pixels_fnv1a: FNV-1a 32-bit hash of the step's 112x112x3 pixels (the page shows the same hashes).\n"
    "  --save-images DIR writes step_000.png ... (112x112).\n";

Result<RgbImage> model_image(const std::string& path, const SquareCrop* crop) {
  auto bytes = read_file_bytes(path, ImageLimits::max_file_bytes);
  if (!bytes) return bytes.status();
  auto decoded = decode_image(bytes.value().data(), bytes.value().size());
  if (!decoded) return decoded.status().with_context("'" + path + "': ");
  const SquareCrop chosen = crop ? *crop : centred_crop(decoded->width, decoded->height);
  auto seen = crop_resize(decoded.value(), chosen, kModelInputSide);
  if (!seen) return seen.status().with_context("'" + path + "': ");
  return seen;
}

// The manifest entry (models/MANIFEST.md) of the model, found by its name and outputs (the eight shared models share
// their outputs, so the outputs alone do not say which), and its reference quantiles per output.
struct References {
  std::vector<std::vector<double>> quantiles;  // one list of 101 per output; empty when not in the manifest
};
Result<References> references_for(const json& manifest, const Model& model) {
  References refs;
  for (const auto& entry : manifest.value("models", json::array())) {
    if (!entry.contains("outputs") || entry["outputs"] != json(model.output_names) ||
        entry.value("name", std::string()) != model.name)
      continue;
    const json& reference = entry["reference"];
    if (reference.is_null()) continue;
    const std::vector<json> per_output =
        reference.is_array() ? std::vector<json>(reference.begin(), reference.end()) : std::vector<json>{reference};
    for (const json& r : per_output) {
      if (!r.contains("quantiles") || !r["quantiles"].is_array() || r["quantiles"].size() != 101)
        return Status::error("manifest entry '" + entry.value("id", std::string("?")) +
                             "': reference quantiles missing or not 101 numbers");
      refs.quantiles.push_back(r["quantiles"].get<std::vector<double>>());
    }
    if (refs.quantiles.size() != model.output_count())
      return Status::error("manifest entry '" + entry.value("id", std::string("?")) + "' has " +
                           std::to_string(refs.quantiles.size()) + " reference distributions for " +
                           std::to_string(model.output_count()) + " outputs");
    return refs;
  }
  return refs;
}

std::string number(double value) {
  if (std::isnan(value)) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

}  // namespace

Outcome run_path(const Args& args) {
  std::string model_path, population_path, manifest_path, save_dir, transform_text;
  std::vector<std::string> images;
  SquareCrop crop;
  int steps = 0, output = 0;
  long long seed = 1;
  std::optional<Precision> precision;
  ArgParser parser("path", kPathUsage);
  parser.positional("MODEL", model_path)
      .positionals("IMAGE", images, 1)
      .text("--transform", "KIND=AMOUNT", transform_text)
      .integer("--steps", "N", 2, kMaxPathSteps, steps)
      .required()
      .integer("--output", "I", 0, INT_MAX, output)
      .integers("--crop", "X,Y,SIDE", ',', {&crop.x, &crop.y, &crop.side}, INT_MIN, INT_MAX)
      .integer("--seed", "S", 0, LLONG_MAX, seed)
      .choice<std::optional<Precision>>(
          "--precision", "float|int8",
          {{"float", Precision::float32}, {"float32", Precision::float32}, {"int8", Precision::int8}}, precision)
      .text("--population", "SHARED_MODEL", population_path)
      .text("--manifest", "MANIFEST.json", manifest_path)
      .text("--save-images", "DIR", save_dir);
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  if (images.size() > 2) return parser.usage_error("expected IMAGE and at most one IMAGE2");
  if ((images.size() == 2) == parser.given("--transform"))
    return parser.usage_error("give either IMAGE2 (a blend) or --transform KIND=AMOUNT, not both or neither");
  if (!population_path.empty() && manifest_path.empty())
    return parser.usage_error("--population needs --manifest (the outputs' natural-image spreads)");

  std::optional<ImageTransform> transform;
  if (!transform_text.empty()) {
    auto parsed = parse_transform(transform_text);
    if (!parsed) return parsed.status();
    transform = parsed.value();
    transform->seed = static_cast<std::uint64_t>(seed);
  }

  auto model = load_model_file(model_path);
  if (!model) return model.status();
  const Model& m = model.value();
  if (static_cast<std::size_t>(output) >= m.output_count())
    return parser.usage_error("--output " + std::to_string(output) + ": the model has " +
                              std::to_string(m.output_count()) + " outputs");
  const Precision chosen = precision.value_or(is_int8_model(m) ? Precision::int8 : Precision::float32);
  auto runner = ModelRunner::create(m, chosen);
  if (!runner) return runner.status();

  json manifest;
  References refs;
  std::optional<Model> population;
  std::unique_ptr<ModelRunner> population_runner;
  PopulationSpread spread;
  if (!manifest_path.empty()) {
    auto bytes = read_file_bytes(manifest_path, 64u << 20);
    if (!bytes) return bytes.status();
    manifest = json::parse(bytes.value().begin(), bytes.value().end(), nullptr, false);
    if (manifest.is_discarded() || !manifest.is_object())
      return Status::error("'" + manifest_path + "' is not a JSON object (a manifest.json of `cortexlens pack`)");
    CL_RETURN_IF_ERROR(
        inline_reference_files(manifest, (std::filesystem::path(manifest_path).parent_path() / ".").string())
            .with_context("'" + manifest_path + "': "));
    auto found = references_for(manifest, m);
    if (!found) return found.status();
    refs = std::move(found).value();
  }
  if (!population_path.empty()) {
    auto loaded = load_model_file(population_path);
    if (!loaded) return loaded.status();
    population = std::move(loaded).value();
    auto prefs = references_for(manifest, *population);
    if (!prefs) return prefs.status();
    if (prefs->quantiles.empty())
      return Status::error("'" + manifest_path + "' has no entry named '" + population->name +
                           "' with its outputs (from '" + population_path + "')");
    std::vector<double> q25, q75;
    for (const auto& q : prefs->quantiles) {
      q25.push_back(q[25]);
      q75.push_back(q[75]);
    }
    spread = spread_from_quartiles(q25, q75);
    auto made = ModelRunner::create(*population, is_int8_model(*population) ? Precision::int8 : Precision::float32);
    if (!made) return made.status();
    population_runner = std::move(made).value();
  }

  const bool has_crop = parser.given("--crop");
  auto first = model_image(images[0], has_crop ? &crop : nullptr);
  if (!first) return first.status();
  std::optional<RgbImage> second;
  if (images.size() == 2) {
    auto loaded = model_image(images[1], nullptr);
    if (!loaded) return loaded.status();
    second = std::move(loaded).value();
  }
  auto path = image_path(first.value(), second ? &*second : nullptr, transform ? &*transform : nullptr, steps);
  if (!path) return path.status();

  if (!save_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(save_dir, error);
    if (error) return Status::error("cannot create '" + save_dir + "': " + error.message());
  }
  std::vector<std::string> rows;
  std::vector<float> outputs(runner.value()->output_size()), baseline;
  for (int step = 0; step < steps; ++step) {
    const RgbImage& image = path.value()[static_cast<std::size_t>(step)];
    const Tensor input = recentre(image);
    CL_RETURN_IF_ERROR(runner.value()->run(input, outputs.data()));
    const double response = outputs[static_cast<std::size_t>(output)];
    const double percentile = refs.quantiles.empty()
                                  ? std::nan("")
                                  : percentile_of(response, refs.quantiles[static_cast<std::size_t>(output)]);
    double distance = std::nan("");
    if (population_runner) {
      std::vector<float> pop(population_runner->output_size());
      CL_RETURN_IF_ERROR(population_runner->run(input, pop.data()));
      if (step == 0) baseline = pop;
      auto d = population_distance(pop, baseline, spread);
      if (!d) return d.status();
      distance = d->distance;
    }
    const double fraction = path_fraction(step, steps);
    const double amount = transform ? path_amount(*transform, step, steps) : fraction;  // a blend: IMAGE2's weight
    char hash[16];
    std::snprintf(hash, sizeof hash, "%08x", fnv1a_32(image.pixels));
    rows.push_back(std::to_string(step) + "," + number(fraction) + "," + number(amount) + "," + number(response) + "," +
                   number(percentile) + "," + number(distance) + "," + hash);
    if (!save_dir.empty()) {
      char name[32];
      std::snprintf(name, sizeof name, "/step_%03d.png", step);
      CL_RETURN_IF_ERROR(write_png(save_dir + name, image));
    }
  }
  std::printf("step,fraction,amount,response,percentile,population_distance,pixels_fnv1a\n");
  for (const auto& row : rows) std::printf("%s\n", row.c_str());
  return Status::ok();
}

}  // namespace cortexlens::cli
