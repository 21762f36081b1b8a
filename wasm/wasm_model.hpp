// The JS-visible model handle. JS owns it and must call .delete() (the worker does, when a model is replaced).
#pragma once

#include "cortexlens/model.hpp"
#include "edge.hpp"

namespace cortexlens::wasm {

class WasmModel {
 public:
  explicit WasmModel(Model model) : model_(std::move(model)) {}
  const Model& model() const { return model_; }

  val info() const;
  val predict(const val& input) const;      // Float32Array (H*W*C, recentred) -> Float32Array of outputs
  val activations(const val& input) const;  // -> [{name, shape: [h, w, c], data: Float32Array}] per layer
  Tensor input_from(const val& input) const;

 private:
  Model model_;
};

}  // namespace cortexlens::wasm
