// The Python module cortexlens._native: thin bindings over the core and the screening library. Arrays come in
// as NumPy arrays and results go out as NumPy arrays; a failed Status becomes a Python exception here and nowhere
// else (ValueError for bad input, OSError for files that cannot be read), with the core's message. Compute runs
// with the GIL released; no Python object is touched without it.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cortexlens/backward.hpp"
#include "cortexlens/forward.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/isa.hpp"
#include "cortexlens/model_runner.hpp"
#include "cortexlens/quantize.hpp"
#include "cortexlens/synthesis.hpp"
#include "image_sources.hpp"
#include "model_source.hpp"
#include "screen.hpp"
#include "screen_report.hpp"
#include "thread_pool.hpp"

namespace py = pybind11;
namespace cl = cortexlens;

namespace {

[[noreturn]] void raise_value_error(const cl::Status& status) { throw py::value_error(status.message()); }

[[noreturn]] void raise_os_error(const std::string& message) {
  PyErr_SetString(PyExc_OSError, message.c_str());
  throw py::error_already_set();
}

// A file that cannot be read is an OSError; a file that is read but refused is a ValueError.
[[noreturn]] void raise_for_path(const std::string& path, const cl::Status& status) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) raise_os_error(status.message());
  raise_value_error(status);
}

cl::Precision precision_named(const std::string& name) {
  if (name == "float" || name == "float32") return cl::Precision::float32;
  if (name == "int8") return cl::Precision::int8;
  throw py::value_error("precision '" + name + "': expected 'float32', 'float' or 'int8'");
}

// The named precision, or the model file's own.
cl::Precision parse_precision(const std::optional<std::string>& name, const cl::Model& model) {
  if (!name) return cl::is_int8_model(model) ? cl::Precision::int8 : cl::Precision::float32;
  return precision_named(*name);
}

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using ByteArray = py::array_t<std::uint8_t, py::array::c_style>;

FloatArray tensor_to_array(const cl::Tensor& tensor) {
  FloatArray array({tensor.shape.h, tensor.shape.w, tensor.shape.c});
  std::memcpy(array.mutable_data(), tensor.data.data(), tensor.data.size() * sizeof(float));
  return array;
}

ByteArray rgb_to_array(const cl::RgbImage& image) {
  ByteArray array({image.height, image.width, 3});
  std::memcpy(array.mutable_data(), image.pixels.data(), image.pixels.size());
  return array;
}

// A batch of model inputs as the binding received it: (N, H, W, 3) uint8 pixels (any size: centre crop and
// resize to the model's side, as for a decoded file) or (N, H, W, C) recentred float32 of the model's input shape;
// a single image without the N axis is a batch of one.
struct Batch {
  py::array array;             // keeps the buffer alive
  const void* data = nullptr;  // its pixels, read without the GIL
  bool bytes = false;
  bool single = false;
  std::size_t count = 0;
  int h = 0, w = 0, c = 0;
};

Batch check_batch(const py::array& images, const cl::Shape3& input) {
  Batch batch;
  if (images.dtype().is(py::dtype::of<std::uint8_t>())) {
    batch.bytes = true;
    batch.array = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(images);
  } else if (images.dtype().kind() == 'f') {
    batch.array = FloatArray::ensure(images);
  } else {
    throw py::value_error("images: expected uint8 RGB pixels or recentred float32 values, found dtype " +
                          std::string(py::str(images.dtype())));
  }
  const py::ssize_t ndim = batch.array.ndim();
  if (ndim != 3 && ndim != 4)
    throw py::value_error("images: expected an array of shape (H, W, 3) or (N, H, W, 3), found " +
                          std::to_string(ndim) + " dimensions");
  batch.single = ndim == 3;
  batch.count = batch.single ? 1 : static_cast<std::size_t>(batch.array.shape(0));
  batch.h = static_cast<int>(batch.array.shape(ndim - 3));
  batch.w = static_cast<int>(batch.array.shape(ndim - 2));
  batch.c = static_cast<int>(batch.array.shape(ndim - 1));
  batch.data = batch.array.data();
  if (batch.bytes) {
    if (batch.c != 3 || batch.h < 1 || batch.w < 1)
      throw py::value_error("images: uint8 images must be RGB (H, W, 3), found (" + std::to_string(batch.h) + ", " +
                            std::to_string(batch.w) + ", " + std::to_string(batch.c) + ")");
  } else if (batch.h != input.h || batch.w != input.w || batch.c != input.c) {
    throw py::value_error("images: float input has shape (" + std::to_string(batch.h) + ", " + std::to_string(batch.w) +
                          ", " + std::to_string(batch.c) + "), expected (" + std::to_string(input.h) + ", " +
                          std::to_string(input.w) + ", " + std::to_string(input.c) +
                          ") recentred RGB (or uint8 RGB images of any size)");
  }
  return batch;
}

// Image i of a batch as the model input. Called without the GIL: reads the array's buffer only.
cl::Result<cl::Tensor> batch_input(const Batch& batch, std::size_t i, const cl::Shape3& input) {
  const std::size_t pixels = static_cast<std::size_t>(batch.h) * batch.w * batch.c;
  if (!batch.bytes) {
    const float* data = static_cast<const float*>(batch.data) + i * pixels;
    cl::Tensor tensor(input);
    std::memcpy(tensor.data.data(), data, pixels * sizeof(float));
    return tensor;
  }
  const std::uint8_t* data = static_cast<const std::uint8_t*>(batch.data) + i * pixels;
  cl::RgbImage image;
  image.width = batch.w;
  image.height = batch.h;
  image.pixels.assign(data, data + pixels);
  if (batch.h == input.h && batch.w == input.w) return cl::recentre(image);
  auto resized = cl::crop_resize(image, cl::centred_crop(image.width, image.height), input.h);
  if (!resized) return resized.status();
  return cl::recentre(resized.value());
}

// One input for the analyses that take a single image.
cl::Tensor single_input(const py::array& image, const cl::Shape3& input) {
  Batch batch = check_batch(image, input);
  if (batch.count != 1)
    throw py::value_error("image: expected one image, found a batch of " + std::to_string(batch.count));
  auto tensor = batch_input(batch, 0, input);
  if (!tensor) raise_value_error(tensor.status());
  return std::move(tensor).value();
}

// A loaded model. Predictions from several Python threads at once each borrow a prepared runner from a small pool
// (a runner must not run on two threads at once), so the weights are packed once per thread, not once per call.
class PyModel {
 public:
  PyModel(cl::Model model, std::string path) : model_(std::move(model)), path_(std::move(path)) {}

  py::array_t<float> predict(const py::array& images, const std::optional<std::string>& precision_name) {
    const cl::Precision precision = parse_precision(precision_name, model_);
    const Batch batch = check_batch(images, model_.input);
    const std::size_t outputs = model_.output_count();
    py::array_t<float> result =
        batch.single ? py::array_t<float>({static_cast<py::ssize_t>(outputs)})
                     : py::array_t<float>({static_cast<py::ssize_t>(batch.count), static_cast<py::ssize_t>(outputs)});
    float* out = result.mutable_data();
    cl::Status status = cl::Status::ok();
    {
      py::gil_scoped_release release;
      auto runner = borrow(precision);
      if (!runner) {
        status = runner.status();
      } else {
        for (std::size_t i = 0; i < batch.count && status.is_ok(); ++i) {
          auto input = batch_input(batch, i, model_.input);
          if (!input)
            status = input.status().with_context("image " + std::to_string(i) + ": ");
          else
            status =
                runner.value()->run(input.value(), out + i * outputs).with_context("image " + std::to_string(i) + ": ");
        }
        give_back(std::move(runner).value());
      }
    }
    if (!status) raise_value_error(status);
    return result;
  }

  py::dict activations(const py::array& image, const std::optional<std::string>& precision_name) {
    const cl::Precision precision = parse_precision(precision_name, model_);
    const cl::Tensor input = single_input(image, model_.input);
    cl::ForwardOptions options;
    options.keep_activations = true;
    cl::Result<cl::ForwardResult> result = cl::Status::error("not run");
    {
      py::gil_scoped_release release;
      result = cl::forward_with_precision(model_, input, precision, options);
    }
    if (!result) raise_value_error(result.status());
    py::dict layers;
    for (std::size_t i = 0; i < model_.layers.size() && i < result.value().activations.size(); ++i)
      layers[py::str(model_.layers[i].name)] = tensor_to_array(result.value().activations[i]);
    return layers;
  }

  py::tuple input_gradient(const py::array& image, int output, std::optional<int> layer, std::optional<int> y,
                           std::optional<int> x) {
    const cl::Tensor input = single_input(image, model_.input);
    const cl::OutputSelector selector = selector_of(output, layer, y, x);
    cl::Result<cl::GradientResult> result = cl::Status::error("not run");
    {
      py::gil_scoped_release release;
      result = cl::input_gradient(model_, input, selector);
    }
    if (!result) raise_value_error(result.status());
    return py::make_tuple(result.value().value, tensor_to_array(result.value().gradient));
  }

  py::dict synthesize(int output, std::optional<int> layer, int steps, std::uint64_t seed, bool minimize,
                      const std::string& recipe, bool grayscale) {
    cl::SynthOptions options;
    if (recipe == "authors")
      options.recipe = cl::SynthRecipe::authors;
    else if (recipe == "fourier")
      options.recipe = cl::SynthRecipe::fourier;
    else
      throw py::value_error("recipe '" + recipe + "': expected 'authors' or 'fourier'");
    options.steps = steps;
    options.seed = seed;
    options.minimize = minimize;
    options.grayscale = grayscale;
    const cl::OutputSelector selector = selector_of(output, layer, std::nullopt, std::nullopt);
    cl::Result<cl::SynthResult> result = cl::Status::error("not run");
    {
      py::gil_scoped_release release;
      result = cl::synthesize(model_, selector, options);
    }
    if (!result) raise_value_error(result.status());
    py::dict out;
    out["image"] = rgb_to_array(cl::unrecentre(result.value().image));
    out["input"] = tensor_to_array(result.value().image);
    out["response"] = result.value().response;
    out["steps"] = result.value().steps_done;
    out["trace"] =
        py::array_t<float>(static_cast<py::ssize_t>(result.value().trace.size()), result.value().trace.data());
    return out;
  }

  py::dict info() const {
    py::dict out;
    out["name"] = model_.name;
    out["path"] = path_;
    out["input"] = py::make_tuple(model_.input.h, model_.input.w, model_.input.c);
    out["outputs"] = model_.output_names;
    out["int8"] = cl::is_int8_model(model_);
    out["params"] = model_.source_params();
    out["multiply_adds"] = model_.multiply_adds();
    py::list layers;
    for (const cl::Layer& layer : model_.layers) {
      py::dict entry;
      entry["name"] = layer.name;
      entry["kind"] = cl::layer_kind_name(layer.kind);
      entry["activation"] = cl::activation_name(layer.activation);
      entry["output"] = py::make_tuple(layer.out.h, layer.out.w, layer.out.c);
      entry["kernel"] = py::make_tuple(layer.kernel_h, layer.kernel_w);
      entry["stride"] = py::make_tuple(layer.stride_h, layer.stride_w);
      layers.append(entry);
    }
    out["layers"] = layers;
    py::list source;
    for (const cl::SourceLayer& layer : model_.source_layers) {
      py::dict entry;
      entry["name"] = layer.name;
      entry["class_name"] = layer.class_name;
      entry["output"] = py::make_tuple(layer.output.h, layer.output.w, layer.output.c);
      entry["params"] = layer.params;
      source.append(entry);
    }
    out["source_layers"] = source;
    return out;
  }

  const cl::Model& model() const { return model_; }

 private:
  cl::OutputSelector selector_of(int output, std::optional<int> layer, std::optional<int> y,
                                 std::optional<int> x) const {
    cl::OutputSelector selector =
        layer ? cl::OutputSelector{*layer, output, y.value_or(-1), x.value_or(-1)} : cl::OutputSelector::output(output);
    if (cl::Status status = cl::check_selector(model_, selector); !status) raise_value_error(status);
    return selector;
  }

  cl::Result<std::unique_ptr<cl::ModelRunner>> borrow(cl::Precision precision) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = pool_.begin(); it != pool_.end(); ++it)
        if ((*it)->precision() == precision) {
          std::unique_ptr<cl::ModelRunner> runner = std::move(*it);
          pool_.erase(it);
          return runner;
        }
    }
    return cl::ModelRunner::create(model_, precision);
  }
  void give_back(std::unique_ptr<cl::ModelRunner> runner) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pool_.size() < 8) pool_.push_back(std::move(runner));
  }

  cl::Model model_;
  std::string path_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<cl::ModelRunner>> pool_;
};

std::unique_ptr<PyModel> load(const std::string& path) {
  cl::Result<cl::Model> model = cl::Status::error("not loaded");
  {
    py::gil_scoped_release release;
    model = cl::load_model_file(path);
  }
  if (!model) raise_for_path(path, model.status());
  return std::make_unique<PyModel>(std::move(model).value(), path);
}

FloatArray load_image(const py::object& source, const std::optional<std::tuple<int, int, int>>& crop) {
  std::vector<std::uint8_t> bytes;
  if (py::isinstance<py::bytes>(source) || py::isinstance<py::bytearray>(source) ||
      py::isinstance<py::memoryview>(source)) {
    const std::string text =
        py::isinstance<py::bytes>(source) ? std::string(source.cast<py::bytes>()) : std::string(py::bytes(source));
    bytes.assign(text.begin(), text.end());
  } else {
    const std::string path = py::str(py::module_::import("os").attr("fspath")(source));
    cl::Result<std::vector<std::uint8_t>> read = cl::Status::error("not read");
    {
      py::gil_scoped_release release;
      read = cl::read_file_bytes(path, cl::ImageLimits::max_file_bytes);
    }
    if (!read) raise_for_path(path, read.status());
    bytes = std::move(read).value();
  }
  cl::SquareCrop square;
  if (crop) square = {std::get<0>(*crop), std::get<1>(*crop), std::get<2>(*crop)};
  cl::Result<cl::Tensor> input = cl::Status::error("not decoded");
  {
    py::gil_scoped_release release;
    // The page's path: decode, the square crop (centred by default), resize, recentre.
    input = cl::image_to_input(bytes.data(), bytes.size(), crop ? &square : nullptr);
  }
  if (!input) raise_value_error(input.status());
  return tensor_to_array(input.value());
}

// ---- screening ----

// Calls a Python progress function after each chunk (with the GIL taken for the call); a Python exception or a
// pending KeyboardInterrupt stops the run as an interruption would, and is raised once screen_images returns.
class PyObserver : public cl::ScreenObserver {
 public:
  PyObserver(py::object progress, py::object note) : progress_(std::move(progress)), note_(std::move(note)) {}
  void note(const std::string& message) override {
    py::gil_scoped_acquire acquire;
    if (error_ || note_.is_none()) return;
    try {
      note_(message);
    } catch (py::error_already_set& error) {
      error_ = std::make_unique<py::error_already_set>(std::move(error));
    }
  }
  bool chunk_done(std::size_t done, std::size_t total) override {
    py::gil_scoped_acquire acquire;
    if (error_) return false;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!progress_.is_none()) progress_(done, total);
    } catch (py::error_already_set& error) {
      error_ = std::make_unique<py::error_already_set>(std::move(error));
      return false;
    }
    return true;
  }
  std::unique_ptr<py::error_already_set> error_;

 private:
  py::object progress_, note_;
};

// Models loaded once for many screening runs (a Dask worker keeps one per model list).
class PyScreener {
 public:
  PyScreener(const std::vector<std::string>& models, const std::optional<std::string>& precision) {
    std::optional<cl::Precision> chosen;
    if (precision) chosen = precision_named(*precision);
    cl::Result<std::vector<cl::ScreenModel>> loaded = cl::Status::error("not loaded");
    {
      py::gil_scoped_release release;
      loaded = cl::load_screen_models(models, chosen);
    }
    if (!loaded) {
      // A path that is not there or cannot be read is the file system's error; anything else, the models'.
      for (const auto& path : models)
        if (::access(path.c_str(), R_OK) != 0) raise_os_error(loaded.message());
      raise_value_error(loaded.status());
    }
    models_ = std::move(loaded).value();
  }

  py::list columns() const {
    py::list out;
    for (const auto& model : models_)
      for (const auto& name : model.model.output_names)
        out.append(py::make_tuple(std::filesystem::path(model.path).filename().string(), name,
                                  cl::precision_name(model.precision)));
    return out;
  }

  // Returns a dict: images (names), responses (images, columns) float32, failures [(index, message)], counts,
  // top/bottom indices (columns, k) int64 padded with -1 and responses float32 padded with NaN, quantiles
  // (columns, 9) float64 (NaN for a column without responses), csv and json text (the CLI's bytes).
  py::dict run(const std::vector<std::string>& images, std::size_t first, std::optional<std::size_t> count,
               std::size_t top, std::optional<int> threads, std::size_t chunk, const std::string& checkpoint,
               bool resume, std::size_t stop_after, const py::object& progress, const py::object& note,
               bool keep_responses, bool text) {
    if (top < 1) throw py::value_error("top: expected at least 1, found 0");
    if (chunk < 1) throw py::value_error("chunk: expected at least 1, found 0");
    if (threads && *threads < 1)
      throw py::value_error("threads: expected at least 1, found " + std::to_string(*threads));
    cl::ScreenOptions options;
    options.first = first;
    if (count) options.count = *count;
    options.chunk = chunk;
    options.threads = threads.value_or(cl::default_thread_count());
    options.checkpoint = checkpoint;
    options.resume = resume;
    options.stop_after = stop_after;
    PyObserver observer(progress, note);
    cl::Result<cl::ScreenRun> result = cl::Status::error("not run");
    bool open_failed = false;
    {
      py::gil_scoped_release release;
      auto collection = cl::ImageCollection::open(images);
      if (!collection) {
        result = collection.status();
        open_failed = true;
      } else {
        result = cl::screen_images(collection.value(), models_, options, observer);
      }
    }
    if (observer.error_) throw std::move(*observer.error_);
    if (!result) {
      if (open_failed) raise_os_error(result.message());
      raise_value_error(result.status());
    }
    const cl::ScreenRun& run = result.value();
    const std::size_t n = run.images.size(), columns = run.columns;
    py::dict out;
    py::list names;
    for (const auto& entry : run.images) names.append(entry.name);
    out["images"] = names;
    py::list failures;
    for (const auto& failure : run.failures) failures.append(py::make_tuple(failure.image, failure.message));
    out["failures"] = failures;
    if (keep_responses) {
      py::array_t<float> responses({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(columns)});
      std::copy(run.responses.begin(), run.responses.end(), responses.mutable_data());
      out["responses"] = responses;
    } else {
      out["responses"] = py::none();
    }
    cl::ScreenReport report;
    {
      py::gil_scoped_release release;
      report = cl::screen_report(run, models_, top);
    }
    py::array_t<std::int64_t> counts(static_cast<py::ssize_t>(columns));
    py::array_t<std::int64_t> top_index({columns, top}), bottom_index({columns, top});
    py::array_t<float> top_response({columns, top}), bottom_response({columns, top});
    py::array_t<double> quantiles({columns, cl::kScreenPercentiles.size()});
    std::fill_n(top_index.mutable_data(), columns * top, -1);
    std::fill_n(bottom_index.mutable_data(), columns * top, -1);
    std::fill_n(top_response.mutable_data(), columns * top, std::numeric_limits<float>::quiet_NaN());
    std::fill_n(bottom_response.mutable_data(), columns * top, std::numeric_limits<float>::quiet_NaN());
    std::fill_n(quantiles.mutable_data(), quantiles.size(), std::numeric_limits<double>::quiet_NaN());
    std::size_t column = 0;
    for (const auto& model : report.models)
      for (const auto& output : model.outputs) {
        counts.mutable_data()[column] = static_cast<std::int64_t>(output.summary.images);
        for (std::size_t r = 0; r < output.summary.top.size(); ++r) {
          top_index.mutable_data()[column * top + r] = static_cast<std::int64_t>(output.summary.top[r].image);
          top_response.mutable_data()[column * top + r] = output.summary.top[r].response;
        }
        for (std::size_t r = 0; r < output.summary.bottom.size(); ++r) {
          bottom_index.mutable_data()[column * top + r] = static_cast<std::int64_t>(output.summary.bottom[r].image);
          bottom_response.mutable_data()[column * top + r] = output.summary.bottom[r].response;
        }
        std::copy(output.summary.quantiles.begin(), output.summary.quantiles.end(),
                  quantiles.mutable_data() + column * cl::kScreenPercentiles.size());
        ++column;
      }
    out["counts"] = counts;
    out["top_index"] = top_index;
    out["top_response"] = top_response;
    out["bottom_index"] = bottom_index;
    out["bottom_response"] = bottom_response;
    out["quantiles"] = quantiles;
    out["resumed_from"] = run.resumed_from;
    if (text) {
      std::string csv, json;
      {
        py::gil_scoped_release release;
        csv = cl::screen_csv(report);
        json = cl::screen_json(report);
      }
      out["csv"] = py::bytes(csv);
      out["json"] = py::bytes(json);
    }
    return out;
  }

 private:
  std::vector<cl::ScreenModel> models_;
};

// The summary of one column of responses (NaN: no response), as screen reports it: for merging shards exactly.
py::tuple summarize(const py::array_t<float, py::array::c_style | py::array::forcecast>& responses, std::size_t k) {
  if (responses.ndim() != 1) throw py::value_error("responses: expected a 1-dimensional array");
  std::vector<float> column(responses.data(), responses.data() + responses.size());
  cl::OutputSummary summary;
  {
    py::gil_scoped_release release;
    summary = cl::summarize_output(column, k);
  }
  std::vector<double> quantiles = summary.quantiles;
  if (quantiles.empty()) quantiles.assign(cl::kScreenPercentiles.size(), std::numeric_limits<double>::quiet_NaN());
  return py::make_tuple(summary.images,
                        py::array_t<double>(static_cast<py::ssize_t>(quantiles.size()), quantiles.data()));
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "Cortex Lens engine: compact CNN models of macaque V4 neurons (native bindings)";

  py::class_<PyModel>(m, "Model")
      .def("predict", &PyModel::predict, py::arg("images"), py::arg("precision") = py::none())
      .def("activations", &PyModel::activations, py::arg("image"), py::arg("precision") = py::none())
      .def("input_gradient", &PyModel::input_gradient, py::arg("image"), py::arg("output") = 0,
           py::arg("layer") = py::none(), py::arg("y") = py::none(), py::arg("x") = py::none())
      .def("synthesize", &PyModel::synthesize, py::arg("output") = 0, py::arg("layer") = py::none(),
           py::arg("steps") = 1000, py::arg("seed") = 1, py::arg("minimize") = false, py::arg("recipe") = "authors",
           py::arg("grayscale") = false)
      .def("info", &PyModel::info)
      .def_property_readonly("name", [](const PyModel& model) { return model.model().name; })
      .def_property_readonly("output_names", [](const PyModel& model) { return model.model().output_names; });

  m.def("load", &load, py::arg("path"));
  m.def("load_image", &load_image, py::arg("source"), py::arg("crop") = py::none());

  py::class_<PyScreener>(m, "Screener")
      .def(py::init<const std::vector<std::string>&, const std::optional<std::string>&>(), py::arg("models"),
           py::arg("precision") = py::none())
      .def("columns", &PyScreener::columns)
      .def("run", &PyScreener::run, py::arg("images"), py::arg("first") = 0, py::arg("count") = py::none(),
           py::arg("top") = 10, py::arg("threads") = py::none(), py::arg("chunk") = 256, py::arg("checkpoint") = "",
           py::arg("resume") = false, py::arg("stop_after") = 0, py::arg("progress") = py::none(),
           py::arg("note") = py::none(), py::arg("keep_responses") = true, py::arg("text") = false);
  m.def(
      "list_images",
      [](const std::vector<std::string>& paths) {
        cl::Result<cl::ImageCollection> collection = cl::Status::error("not opened");
        {
          py::gil_scoped_release release;
          collection = cl::ImageCollection::open(paths);
        }
        if (!collection) raise_os_error(collection.message());
        std::vector<std::string> names;
        for (const auto& entry : collection.value().entries()) names.push_back(entry.name);
        return names;
      },
      py::arg("paths"));
  m.def("summarize", &summarize, py::arg("responses"), py::arg("k"));
  m.attr("percentiles") = cl::kScreenPercentiles;

  m.def("isa", [] { return std::string(cl::isa_name(cl::active_isa())); });
  m.def("supported_isas", [] {
    std::vector<std::string> names;
    for (cl::Isa isa : cl::supported_isas()) names.emplace_back(cl::isa_name(isa));
    return names;
  });
  m.def(
      "set_isa",
      [](const std::string& name) {
        auto isa = cl::parse_isa(name);
        if (!isa) raise_value_error(isa.status());
        if (cl::Status status = cl::set_isa(isa.value()); !status) raise_value_error(status);
      },
      py::arg("name"));
  m.def("default_threads", &cl::default_thread_count);
}
