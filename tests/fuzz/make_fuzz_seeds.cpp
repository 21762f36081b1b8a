// Writes the committed seed corpora of the Keras fuzz targets, all from the project's own models (no published
// data): the demo model and small fixture models covering every supported layer class, in the input format of
// fuzz_keras_import (keras_input.hpp); and the demo's model.weights.h5, taken out of the committed .keras, for
// fuzz_keras_archive's HDF5 door. The committed .keras files (models/demo, tests/bad_models) are its other seeds.
// Usage: make_fuzz_seeds CORPUS_DIR DEMO_KERAS   (the build target `fuzz_seeds` runs it on the repository)
#include <zip.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "demo_model.hpp"
#include "keras_fixture.hpp"
#include "keras_input.hpp"

using namespace cortexlens;

namespace {

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "make_fuzz_seeds: %s\n", message.c_str());
  std::exit(1);
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!file) die("cannot write " + path);
  std::printf("%s: %zu bytes\n", path.c_str(), bytes.size());
}

void write_seed(const std::string& path, const std::string& config, const std::vector<NamedTensor>& tensors) {
  for (const auto& t : tensors)
    for (const std::int64_t dim : t.shape)
      if (dim < 0 || dim > 0xffff) die(t.name + ": a dimension does not fit the seed format's 16 bits");
  // The seed must read back as what was written, or the fuzzer would start from something else.
  const std::vector<std::uint8_t> bytes = fuzz::format_keras_input(config, tensors);
  const fuzz::KerasInput back = fuzz::parse_keras_input(bytes.data(), bytes.size());
  if (back.config_json != config || back.tensors.size() != tensors.size()) die(path + ": does not read back");
  write_file(path, bytes);
}

std::vector<std::uint8_t> zip_member(const std::string& archive_path, const char* name) {
  int error = 0;
  zip_t* archive = zip_open(archive_path.c_str(), ZIP_RDONLY, &error);
  if (!archive) die("cannot open " + archive_path);
  zip_stat_t stat;
  if (zip_stat(archive, name, 0, &stat) != 0) die(archive_path + " has no " + name);
  std::vector<std::uint8_t> bytes(stat.size);
  zip_file_t* file = zip_fopen(archive, name, 0);
  if (!file || zip_fread(file, bytes.data(), stat.size) != static_cast<zip_int64_t>(stat.size))
    die("cannot read " + std::string(name) + " from " + archive_path);
  zip_fclose(file);
  zip_close(archive);
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_fuzz_seeds CORPUS_DIR DEMO_KERAS\n");
    return 2;
  }
  const std::string corpus = argv[1], demo_keras = argv[2];
  const std::string import_dir = corpus + "/keras_import/", archive_dir = corpus + "/keras_archive/";

  const demo::DemoKeras demo = demo::build_demo_keras();
  write_seed(import_dir + "demo_dot_detector.bin", demo.config_json, demo.tensors);
  {
    // Every supported class on a small input, so mutations run fast: conv (valid, stride 2) + BN + ReLU layer,
    // depthwise (same), separable (same, stride 2), Activation linear, Flatten, Dense.
    fixture::KerasModelBuilder b(13, 11, 3);
    b.conv2d("conv", 3, 4, 3, 2, "valid");
    b.batch_norm("bn", 4);
    b.add("ReLU", "relu", {});
    b.group("ReLU");
    b.depthwise("depthwise", 4, 3, "same");
    b.separable("separable", 4, 3, 3, 2, "same");
    b.activation("linear", "linear");
    b.add("Dropout", "dropout", {{"rate", 0.5}});
    b.group("Dropout");
    b.flatten("flatten");
    b.dense("readout", 3 * 3 * 3, 2);
    write_seed(import_dir + "every_layer_13x11.bin", b.config_text(), b.tensors);
  }
  {
    fixture::KerasModelBuilder b(8, 8, 1);
    b.conv2d("conv", 1, 2, 5, 1, "same", "relu");
    b.flatten("flatten");
    b.dense("readout", 8 * 8 * 2, 1);
    write_seed(import_dir + "conv_dense_8x8.bin", b.config_text(), b.tensors);
  }
  {
    // The published architecture's layer sequence (five BN + ReLU stages) at its real input size.
    const fixture::KerasModelBuilder b = fixture::compact_architecture({2, 2, 2, 2, 2});
    write_seed(import_dir + "compact_architecture.bin", b.config_text(), b.tensors);
  }
  {
    // A Sequential model: the same layers without inbound nodes.
    fixture::KerasModelBuilder b(6, 6, 2);
    b.depthwise("depthwise", 2, 3, "valid");
    b.flatten("flatten");
    b.dense("readout", 4 * 4 * 2, 1);
    nlohmann::json layers = b.layers;
    for (auto& layer : layers) layer.erase("inbound_nodes");
    const nlohmann::json root = {{"class_name", "Sequential"}, {"config", {{"name", "seq"}, {"layers", layers}}}};
    write_seed(import_dir + "sequential_6x6.bin", root.dump(), b.tensors);
  }
  write_file(archive_dir + "demo_dot_detector.weights.h5", zip_member(demo_keras, "model.weights.h5"));
  return 0;
}
