// The project's own demo model: a hand-designed "dot detector" in the published compact architecture
// (conv 5x5 + BN + ReLU, four separable 5x5 stages, flatten, dense readout), whose weights this code constructs,
// so the page and the tests work on a fresh clone without the published (licensed) data.
// models/demo/README.md explains the design; make_demo_model writes the committed files from these functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cortexlens/keras_import.hpp"
#include "cortexlens/model_file.hpp"

namespace cortexlens::demo {

inline constexpr const char* kDemoModelName = "demo_dot_detector";
inline constexpr int kDemoFilters[5] = {2, 2, 2, 2, 2};

// The model as Keras 3 would save it: config.json text and the variables of model.weights.h5 (HDF5 paths
// "layers/<group>/vars/<j>"). Deterministic. `groups` lists every layer's h5 group in order, with or without
// variables, as Keras writes them.
struct DemoKeras {
  std::string config_json;
  std::string metadata_json;
  std::vector<NamedTensor> tensors;
  std::vector<std::string> groups;
};
DemoKeras build_demo_keras();

// Synthetic images (recentred (112, 112, 3)): the test patterns the demo is meant to tell apart, and the set its
// int8 activation scales are calibrated on (no natural images ship with the repository).
Tensor grey_image();                                                             // all zeros: the mean grey
Tensor dot_image(float centre_x, float centre_y, float radius, float contrast);  // bright (contrast > 0) disc
Tensor ring_image(float centre_x, float centre_y, float radius, float width, float contrast);
std::vector<Tensor> demo_calibration_images();

// The committed model file: build_demo_keras -> import_keras -> int8 (calibrated on demo_calibration_images)
// -> write_model_file with a test vector from the float model.
Result<std::vector<std::uint8_t>> build_demo_model_file();

}  // namespace cortexlens::demo
