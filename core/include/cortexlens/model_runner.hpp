// A model prepared once for many forward passes at one precision: what a worker thread keeps while it runs one
// model over many images. forward() and forward_int8() build a plan (packed weights, zeroed activation buffers) on
// every call, and in a loop over images that setup (memsets and page faults) costs more than the pass itself.
//
// A runner gives exactly the numbers forward_with_precision(model, input, precision) gives, bit for bit: it runs
// the same plan (ForwardPlan or Int8ForwardPlan), whose results do not depend on what it ran before.
// One runner must not run on two threads at once (it reuses its buffers): give each worker its own.
#pragma once

#include <cstddef>
#include <memory>

#include "cortexlens/model.hpp"
#include "cortexlens/quantize.hpp"

namespace cortexlens {

class ForwardPlan;
class Int8ForwardPlan;

class ModelRunner {
 public:
  // The model must have passed validate_model, and must outlive the runner unchanged. int8 needs int8 weights on
  // every layer (an int8 model file); refused otherwise, naming the first layer without them. float runs any
  // model (an int8 file's float path uses its dequantized weights).
  static Result<std::unique_ptr<ModelRunner>> create(const Model& model, Precision precision);
  ~ModelRunner();
  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

  const Model& model() const { return *model_; }
  Precision precision() const { return precision_; }
  std::size_t output_size() const { return output_size_; }  // the last layer's (H, W, C) size

  // outputs: output_size() floats. The checks forward_with_precision makes (the input's shape; for int8 also
  // finite values) refuse a bad input with the same message, leaving outputs unspecified.
  Status run(const Tensor& input, float* outputs);

 private:
  ModelRunner(const Model& model, Precision precision);
  const Model* model_;
  Precision precision_;
  std::size_t output_size_ = 0;
  std::unique_ptr<ForwardPlan> float_plan_;
  std::unique_ptr<Int8ForwardPlan> int8_plan_;
};

}  // namespace cortexlens
