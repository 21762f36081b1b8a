// `cortexlens convert MODEL -o OUT.clm [--precision int8|float] [--data DIR] [--percentile P]`
#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"

namespace cortexlens::cli {

namespace {

constexpr const char* kConvertUsage =
    "usage: cortexlens convert MODEL -o OUT.clm [--precision int8|float] [--data DIR] [--percentile P]\n"
    "  MODEL: .keras (or .weights.h5 with config.json beside it, or a .clm to re-encode).\n"
    "  int8 (the default) calibrates activation scales on images 1-600 of the test sessions in DIR\n"
    "  (default: $CORTEXLENS_DATA_DIR or the build's data folder); P is the percentile of |x| used (default 99.99),\n"
    "  or 'mse' for the clipping that minimizes the squared quantization error.\n";

}  // namespace

Outcome run_convert(const Args& args) {
  std::string input, output, data_dir;
  ConvertOptions options;
  ArgParser parser("convert", kConvertUsage);
  parser.positional("MODEL", input)
      .text("-o|--output", "OUT.clm", output)
      .required()
      .choice("--precision", "int8|float",
              {{"int8", Precision::int8}, {"float", Precision::float32}, {"float32", Precision::float32}},
              options.precision)
      .text("--data", "DIR", data_dir)
      .custom("--percentile", "P", "a number in (50, 100] or mse",
              [&options](const std::string& text) { return parse_percentile(text, options.percentile); });
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  auto model = load_model_file(input);
  if (!model) return model.status();
  options.source = model_source_text(input);
  ReferenceImages reference;
  if (options.precision == Precision::int8) {
    auto loaded = load_reference_images(data_dir.empty() ? configured_data_dir() : data_dir);
    if (!loaded) return loaded.status().with_context("int8 calibration needs the session images: ");
    reference = std::move(loaded).value();
  }
  auto converted = convert_model(model.value(), options, reference.inputs);
  if (!converted) return converted.status().with_context("'" + input + "': ");
  auto written = write_file_bytes(output, converted.value().bytes);
  if (!written) return written;
  std::printf("%s: %s, %zu bytes (%s), calibrated on %zu images\n", output.c_str(), precision_name(options.precision),
              converted.value().bytes.size(), converted.value().model.name.c_str(), reference.inputs.size());
  return Status::ok();
}

}  // namespace cortexlens::cli
