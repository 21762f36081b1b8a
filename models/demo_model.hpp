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

// The demo's calibration and held-out sets: deterministic images made by code (no data), from one family of
// stimuli (gratings of every orientation, frequency, phase and colour, square waves, checkerboards, dot fields,
// single dots and rings of both polarities, concentric rings, white and 1/f noise, and blends of two of these),
// drawn as 8-bit pixels and recentred. The calibration set and the generated part of the held-out set come from
// different seeds, so no held-out image was seen by the calibration; the held-out set also holds the page's
// drawn gallery patterns (scripts/site/assets.mjs), which the calibration never sees either. The random
// numbers are made from std::mt19937's raw output only, so native and wasm builds draw the same images.
std::vector<Tensor> demo_calibration_images();
std::vector<Tensor> demo_held_out_images();
std::vector<Tensor> demo_gallery_patterns();  // the 8 drawn gallery images at 112 x 112 (part of the held-out set)
const char* demo_held_out_description();

// How faithful an int8 demo model is to the float one on demo_held_out_images(): Pearson r of the two responses,
// and the largest |int8 - float| as a fraction of the float responses' spread (max - min over the same images).
struct DemoFidelity {
  double int8_vs_float_r = 0;
  double max_abs_difference = 0;  // response units
  double float_spread = 0;        // max - min of the float responses
  std::size_t image_count = 0;
  double max_difference_of_spread() const { return float_spread > 0 ? max_abs_difference / float_spread : 0; }
};
Result<DemoFidelity> measure_demo_fidelity(const Model& float_model, const Model& int8_model);

// The committed model file: build_demo_keras -> import_keras -> int8 (quantize_calibrated on
// demo_calibration_images) -> write_model_file with a test vector from the float model.
Result<std::vector<std::uint8_t>> build_demo_model_file();
// The float model build_demo_model_file starts from.
Result<Model> build_demo_float_model();

}  // namespace cortexlens::demo
