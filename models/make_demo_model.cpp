// Writes the project's committed model files, all made by our own code (no published data involved):
//   models/demo/demo_dot_detector.clm    int8 Cortex Lens model file of the hand-designed demo (demo_model.cpp)
//   models/demo/demo_dot_detector.keras  the same model as a Keras 3 archive (zip by libzip, h5 by libhdf5)
//   tests/bad_models/*                   broken .keras and .clm files for the loaders' error tests
// Usage: make_demo_model DEMO_DIR BAD_MODELS_DIR     (the build target `demo_model_files` runs it on the repo)
#include <hdf5.h>
#include <zip.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cortexlens/isa.hpp"
#include "demo_model.hpp"

using namespace cortexlens;

namespace {

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "make_demo_model: %s\n", message.c_str());
  std::exit(1);
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!file) die("cannot write " + path);
  std::printf("%s: %zu bytes\n", path.c_str(), bytes.size());
}

// model.weights.h5 in the layout h5py writes for Keras 3: a group layers/<group>/vars per layer (empty for layers
// without variables) holding float32 datasets named 0, 1, ... Built in memory with the core driver. Object
// timestamps are off so the bytes depend only on the contents.
std::vector<std::uint8_t> h5_image(const std::vector<std::string>& groups, const std::vector<NamedTensor>& tensors) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(fapl, 1 << 16, /*backing_store=*/0);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_LATEST);
  hid_t file = H5Fcreate("demo.weights.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (file < 0) die("H5Fcreate failed");
  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(gcpl, 0);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl, 0);
  auto make_group = [&](const std::string& path) {
    if (H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0) return;
    hid_t g = H5Gcreate2(file, path.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (g < 0) die("H5Gcreate2 " + path);
    H5Gclose(g);
  };
  make_group("layers");
  for (const auto& g : groups) {
    make_group("layers/" + g);
    make_group("layers/" + g + "/vars");
  }
  make_group("optimizer");
  make_group("optimizer/vars");
  for (const auto& t : tensors) {
    // Groups of variables that are not in `groups` (the broken-file variants) are created on the way.
    std::string path;
    for (std::size_t at = t.name.find('/'); at != std::string::npos; at = t.name.find('/', at + 1))
      make_group(t.name.substr(0, at));
    std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t set = H5Dcreate2(file, t.name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (set < 0) die("H5Dcreate2 " + t.name);
    if (H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data.data()) < 0) die("H5Dwrite " + t.name);
    H5Dclose(set);
    H5Sclose(space);
  }
  H5Fflush(file, H5F_SCOPE_GLOBAL);
  const ssize_t size = H5Fget_file_image(file, nullptr, 0);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  H5Fget_file_image(file, bytes.data(), bytes.size());
  H5Pclose(dcpl);
  H5Pclose(gcpl);
  H5Fclose(file);
  H5Pclose(fapl);
  return bytes;
}

struct Member {
  std::string name;
  std::vector<std::uint8_t> bytes;
};

// A zip the way Keras writes .keras files (metadata.json, config.json, model.weights.h5; deflated), with fixed
// timestamps so the bytes are reproducible.
std::vector<std::uint8_t> zip_bytes(const std::vector<Member>& members) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  if (!archive) die("zip_open_from_source failed");
  zip_source_keep(buffer);
  for (const auto& m : members) {
    zip_source_t* source = zip_source_buffer(archive, m.bytes.data(), m.bytes.size(), 0);
    const zip_int64_t index = zip_file_add(archive, m.name.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) die("zip_file_add " + m.name);
    zip_file_set_mtime(archive, static_cast<zip_uint64_t>(index), 315532800, 0);  // 1980-01-01, as Keras writes
    zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_DEFLATE, 9);
  }
  if (zip_close(archive) != 0) die("zip_close failed");
  zip_stat_t st;
  zip_source_stat(buffer, &st);
  std::vector<std::uint8_t> bytes(st.size);
  zip_source_open(buffer);
  zip_source_read(buffer, bytes.data(), st.size);
  zip_source_close(buffer);
  zip_source_free(buffer);
  return bytes;
}

std::vector<std::uint8_t> text_bytes(const std::string& text) { return {text.begin(), text.end()}; }

std::vector<std::uint8_t> keras_file(const demo::DemoKeras& keras) {
  return zip_bytes({{"metadata.json", text_bytes(keras.metadata_json)},
                    {"config.json", text_bytes(keras.config_json)},
                    {"model.weights.h5", h5_image(keras.groups, keras.tensors)}});
}

NamedTensor* find_tensor(demo::DemoKeras& keras, const std::string& name) {
  for (auto& t : keras.tensors)
    if (t.name == name) return &t;
  die("no tensor " + name);
}

// Re-signs a model file after a deliberate change, so the loader gets past the checksum to the field under test.
void fix_checksum(std::vector<std::uint8_t>& file) {
  const std::uint32_t crc = crc32_ieee(file.data(), file.size() - 4);
  for (int i = 0; i < 4; ++i) file[file.size() - 4 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_demo_model DEMO_DIR BAD_MODELS_DIR\n");
    return 2;
  }
  const std::string demo_dir = argv[1], bad_dir = argv[2];
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  // The committed files must not depend on the machine that writes them: the sse path's float arithmetic is the
  // same on every x86-64 (and in wasm); avx2/avx512 fuse multiply-adds and would move the test vector's last bits.
  if (Status isa = set_isa(Isa::sse); !isa) {
    std::fprintf(stderr, "make_demo_model: %s\n", isa.message().c_str());
    return 1;
  }

  auto model_file = demo::build_demo_model_file();
  if (!model_file) die(model_file.message());
  write_file(demo_dir + "/demo_dot_detector.clm", model_file.value());
  {
    // What the int8 file costs in fidelity, on the held-out images (the same figure `cortexlens pack` puts in the
    // manifest and tests/test_model_file.cpp holds to r >= 0.999 and 2% of the spread).
    auto loaded = read_model_file(model_file.value().data(), model_file.value().size());
    if (!loaded) die(loaded.message());
    auto float_model = demo::build_demo_float_model();
    if (!float_model) die(float_model.message());
    auto fidelity = demo::measure_demo_fidelity(float_model.value(), loaded.value().model);
    if (!fidelity) die(fidelity.message());
    const demo::DemoFidelity& f = fidelity.value();
    std::printf(
        "  int8 vs float on %zu held-out images: r %.6f, largest |difference| %.4f = %.2f%% of the float "
        "spread %.3f\n",
        f.image_count, f.int8_vs_float_r, f.max_abs_difference, 100 * f.max_difference_of_spread(), f.float_spread);
  }
  const demo::DemoKeras keras = demo::build_demo_keras();
  const std::vector<std::uint8_t> keras_bytes = keras_file(keras);
  write_file(demo_dir + "/demo_dot_detector.keras", keras_bytes);

  // --- broken .keras files: each breaks one thing the loaders must name ---
  write_file(bad_dir + "/truncated_zip.keras",
             std::vector<std::uint8_t>(keras_bytes.begin(), keras_bytes.begin() + keras_bytes.size() / 2));
  write_file(bad_dir + "/missing_weights.keras", zip_bytes({{"metadata.json", text_bytes(keras.metadata_json)},
                                                            {"config.json", text_bytes(keras.config_json)}}));
  {
    demo::DemoKeras k = keras;
    k.tensors.erase(k.tensors.begin());  // layers/conv2d/vars/0: the first conv kernel
    write_file(bad_dir + "/missing_variable.keras", keras_file(k));
  }
  {
    demo::DemoKeras k = keras;
    NamedTensor* kernel = find_tensor(k, "layers/conv2d/vars/0");
    kernel->shape = {5, 5, 3, 3};
    kernel->data.resize(5 * 5 * 3 * 3, 0.0f);
    write_file(bad_dir + "/wrong_shape.keras", keras_file(k));
  }
  {
    demo::DemoKeras k = keras;
    find_tensor(k, "layers/conv2d/vars/0")->data[7] = std::numeric_limits<float>::quiet_NaN();
    write_file(bad_dir + "/nan_weights.keras", keras_file(k));
  }
  {
    demo::DemoKeras k = keras;
    auto config = nlohmann::json::parse(k.config_json);
    config["config"]["layers"][3]["class_name"] = "LayerNormalization";  // layer0_act's place in the chain
    k.config_json = config.dump();
    write_file(bad_dir + "/unknown_layer.keras", keras_file(k));
  }
  write_file(bad_dir + "/not_a_zip.keras", text_bytes("this is a text file, not a Keras archive\n"));

  // --- broken model files for the page and the wasm tests (the Catch2 tests build many more in code) ---
  {
    std::vector<std::uint8_t> f = model_file.value();
    f[0] = 'X';
    write_file(bad_dir + "/bad_magic.clm", f);
    f = model_file.value();
    f.resize(f.size() / 2);
    write_file(bad_dir + "/truncated.clm", f);
    f = model_file.value();
    f[f.size() / 2] ^= 0x01;
    write_file(bad_dir + "/checksum_mismatch.clm", f);
    // The first expected output (the 4 bytes before the tolerances at the end of TEST), made far off.
    f = model_file.value();
    auto loaded = read_model_file(f.data(), f.size());
    if (!loaded) die(loaded.message());
    const std::size_t outputs = loaded.value().test_vector.expected.size();
    const std::size_t expected_at = f.size() - 4 - 8 * outputs;
    float wrong = loaded.value().test_vector.expected[0] + 1000.0f;
    std::memcpy(&f[expected_at], &wrong, 4);
    fix_checksum(f);
    write_file(bad_dir + "/test_vector_mismatch.clm", f);
  }
  return 0;
}
