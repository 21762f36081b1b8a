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

int usage(const std::string& problem) {
  std::fprintf(stderr, "cortexlens convert: %s\n%s", problem.c_str(), kConvertUsage);
  return 2;
}

}  // namespace

int run_convert(const Args& args) {
  std::string input, output, data_dir;
  ConvertOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "-o" || a == "--output") {
      if (!has_value) return usage(a + " needs a value");
      output = args[++i];
    } else if (a == "--precision") {
      if (!has_value) return usage(a + " needs a value");
      const std::string p = args[++i];
      if (p == "int8") options.precision = Precision::int8;
      else if (p == "float" || p == "float32") options.precision = Precision::float32;
      else return usage("--precision '" + p + "', expected int8 or float");
    } else if (a == "--data") {
      if (!has_value) return usage(a + " needs a value");
      data_dir = args[++i];
    } else if (a == "--percentile") {
      if (!has_value) return usage(a + " needs a value");
      if (!parse_percentile(args[++i], options.percentile))
        return usage("--percentile '" + args[i] + "', expected a number in (50, 100] or mse");
    } else if (a.rfind("-", 0) == 0) {
      return usage("unknown option '" + a + "'");
    } else if (input.empty()) {
      input = a;
    } else {
      return usage("more than one MODEL ('" + input + "', '" + a + "')");
    }
  }
  if (input.empty() || output.empty()) return usage("needs a MODEL and -o OUT");
  auto model = load_model_file(input);
  if (!model) return std::fprintf(stderr, "cortexlens: %s\n", model.message().c_str()), 1;
  options.source = model_source_text(input);
  ReferenceImages reference;
  if (options.precision == Precision::int8) {
    auto loaded = load_reference_images(data_dir.empty() ? configured_data_dir() : data_dir);
    if (!loaded)
      return std::fprintf(stderr, "cortexlens: int8 calibration needs the session images: %s\n",
                          loaded.message().c_str()),
             1;
    reference = std::move(loaded).value();
  }
  auto converted = convert_model(model.value(), options, reference.inputs);
  if (!converted) return std::fprintf(stderr, "cortexlens: '%s': %s\n", input.c_str(), converted.message().c_str()), 1;
  auto written = write_file_bytes(output, converted.value().bytes);
  if (!written) return std::fprintf(stderr, "cortexlens: %s\n", written.message().c_str()), 1;
  std::printf("%s: %s, %zu bytes (%s), calibrated on %zu images\n", output.c_str(),
              precision_name(options.precision), converted.value().bytes.size(), converted.value().model.name.c_str(),
              reference.inputs.size());
  return 0;
}

}  // namespace cortexlens::cli
