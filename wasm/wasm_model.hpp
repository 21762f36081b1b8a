// The JS-visible model handle. JS owns it and must call .delete() (the worker does, when a model is replaced).
#pragma once

#include <memory>

#include "cortexlens/int8_forward_plan.hpp"
#include "cortexlens/model.hpp"
#include "cortexlens/model_file.hpp"
#include "edge.hpp"

namespace cortexlens::wasm {

class WasmModel {
 public:
  explicit WasmModel(Model model) : model_(std::move(model)) {}
  // A plan points at its own model's layers, so a copy or a move starts without one and builds its own when needed.
  WasmModel(const WasmModel& other) : model_(other.model_) {}
  WasmModel(WasmModel&& other) noexcept : model_(std::move(other.model_)) {}
  WasmModel& operator=(const WasmModel& other) {
    if (this != &other) {
      int8_plan_.reset();
      model_ = other.model_;
    }
    return *this;
  }
  WasmModel& operator=(WasmModel&& other) noexcept {
    int8_plan_.reset();
    model_ = std::move(other.model_);
    return *this;
  }
  const Model& model() const { return model_; }

  // The int8 forward pass through a plan built on the first call and kept while the model lives: repeated
  // predictions pack no weights. All models' plans share one activation arena (~2 MB for a per-neuron model)
  // instead of holding one each: the module runs one call at a time.
  // Throws a JS Error for a model without int8 weights or a bad input.
  ForwardResult forward_int8(const val& input, bool keep_activations) const;

  // The outputs for an input already checked against this model's shape, through the int8 plan or the float
  // path, with no JS in between: what predictMany runs on its threads (each model on one thread at a time).
  Result<std::vector<float>> outputs(const Tensor& input, Precision precision) const;

  val info() const;
  val predict(const val& input) const;      // Float32Array (H*W*C, recentred) -> Float32Array of outputs
  val activations(const val& input) const;  // -> [{name, shape: [h, w, c], data: Float32Array}] per layer
  Tensor input_from(const val& input) const;

 private:
  // The model's int8 plan, built on first use, laid out in the calling thread's arena.
  Int8ForwardPlan& int8_plan() const;

  Model model_;
  mutable std::unique_ptr<Int8ForwardPlan> int8_plan_;  // built on first use (wasm runs one call at a time)
};

}  // namespace cortexlens::wasm
