// Bindings for parametric probes (cortexlens/probes.hpp): the families and their parameters, one stimulus, and a
// sweep's responses through a model. The same drawing and passes as `cortexlens probe`.
#include "cortexlens/model_runner.hpp"
#include "cortexlens/probes.hpp"
#include "cortexlens/quantize.hpp"
#include "edge.hpp"
#include "wasm_model.hpp"

namespace cortexlens::wasm {

namespace {

// -> [{name, parameters: [{name, unit, low, high, initial, integer, about}]}], in the order of probe_families().
val probe_families_js() {
  val out = val::array();
  for (ProbeFamily family : probe_families()) {
    val f = val::object();
    f.set("name", std::string(probe_family_name(family)));
    val parameters = val::array();
    for (const auto& p : probe_parameters(family)) {
      val spec = val::object();
      spec.set("name", std::string(p.name));
      spec.set("unit", std::string(p.unit));
      spec.set("low", p.low);
      spec.set("high", p.high);
      spec.set("initial", p.initial);
      spec.set("integer", p.integer);
      spec.set("about", std::string(p.about));
      parameters.call<void>("push", spec);
    }
    f.set("parameters", parameters);
    out.call<void>("push", f);
  }
  return out;
}

// family: 'grating' | 'dots' | 'bar' | 'uniform'; values: {name: number} (missing names take their defaults).
ProbeSettings settings_from(const std::string& family_name, const val& values) {
  const ProbeFamily family = take_or_throw(probe_family_from_name(family_name));
  std::vector<std::pair<std::string, double>> list;
  if (!values.isUndefined() && !values.isNull()) {
    if (values.typeOf().as<std::string>() != "object") throw_js_error("probe values must be an object {name: number}");
    const val keys = val::global("Object").call<val>("keys", values);
    for (int i = 0, n = keys["length"].as<int>(); i < n; ++i) {
      const std::string name = keys[i].as<std::string>();
      const val v = values[name];
      if (!v.isNumber())
        throw_js_error(family_name + " " + name + ": expected a number, found " + v.typeOf().as<std::string>());
      list.emplace_back(name, v.as<double>());
    }
  }
  return take_or_throw(probe_settings(family, list));
}

// axes: [{name, values: number[]}] (1 or 2; the first is the slow axis).
ProbeSweep sweep_from(const std::string& family, const val& fixed, const val& axes) {
  if (!axes.isArray()) throw_js_error("axes must be an array of {name, values}");
  std::vector<SweepAxis> list;
  for (int i = 0, n = axes["length"].as<int>(); i < n; ++i) {
    const val a = axes[i];
    if (!a["name"].isString()) throw_js_error("axis " + std::to_string(i) + " has no name");
    list.push_back({a["name"].as<std::string>(), to_vector<double>(a["values"], "axis values")});
  }
  return take_or_throw(make_probe_sweep(settings_from(family, fixed), std::move(list)));
}

// -> Uint8Array (112, 112, 3) RGB.
val draw_probe_js(const std::string& family, const val& values) {
  return uint8_array(take_or_throw(draw_probe(settings_from(family, values))).pixels);
}

// The stimulus of sweep point k -> {pixels: Uint8Array (112, 112, 3), values: Float64 array in parameter order}.
val sweep_stimulus_js(const std::string& family, const val& fixed, const val& axes, double k) {
  const ProbeSweep sweep = sweep_from(family, fixed, axes);
  if (!(k >= 0 && k < static_cast<double>(sweep.point_count())))
    throw_js_error("sweep point " + std::to_string(k) + ", expected 0.." + std::to_string(sweep.point_count() - 1));
  const ProbeSettings settings = sweep_point(sweep, static_cast<std::size_t>(k));
  val out = val::object();
  out.set("pixels", uint8_array(take_or_throw(draw_probe(settings)).pixels));
  out.set("values", val::array(settings.values));
  return out;
}

// Points [begin, end) of the sweep through `model` at `precision` ('int8' | 'float'); end < 0 means the last point.
// -> {points (the sweep's total), begin, end, outputs, responses: Float32Array ((end - begin) x outputs)}, plus with
// `with_stimuli` stimuli: Uint8Array ((end - begin) x 112 x 112 x 3) and values: Float64Array ((end - begin) x the
// family's parameter count, in probe_parameters order).
val probe_sweep_js(const WasmModel& model, const std::string& precision_text, const std::string& family,
                   const val& fixed, const val& axes, double begin, double end, bool with_stimuli) {
  Precision precision = Precision::float32;
  if (precision_text == "int8")
    precision = Precision::int8;
  else if (precision_text != "float" && precision_text != "float32")
    throw_js_error("precision '" + precision_text + "', expected 'int8' or 'float'");
  const ProbeSweep sweep = sweep_from(family, fixed, axes);
  const double points = static_cast<double>(sweep.point_count());
  if (end < 0) end = points;
  if (!(begin >= 0 && begin <= end && end <= points))
    throw_js_error("sweep points " + std::to_string(begin) + ".." + std::to_string(end) + ", expected a range in 0.." +
                   std::to_string(sweep.point_count()));
  auto runner = take_or_throw(ModelRunner::create(model.model(), precision));
  const auto first = static_cast<std::size_t>(begin), last = static_cast<std::size_t>(end);
  std::vector<float> responses((last - first) * runner->output_size());
  std::vector<std::uint8_t> stimuli(with_stimuli ? (last - first) * kProbeBytes : 0);
  throw_if_error(
      run_probe_sweep(sweep, *runner, first, last, responses.data(), with_stimuli ? stimuli.data() : nullptr));
  val out = val::object();
  out.set("points", points);
  out.set("begin", begin);
  out.set("end", end);
  out.set("outputs", static_cast<double>(runner->output_size()));
  out.set("responses", float32_array(responses));
  if (with_stimuli) {
    out.set("stimuli", uint8_array(stimuli));
    std::vector<double> values;
    for (std::size_t k = first; k < last; ++k) {
      const ProbeSettings settings = sweep_point(sweep, k);
      values.insert(values.end(), settings.values.begin(), settings.values.end());
    }
    out.set("values", val::global("Float64Array").new_(emscripten::typed_memory_view(values.size(), values.data())));
  }
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(cortexlens_probes) {
  emscripten::function("probeFamilies", &probe_families_js);
  emscripten::function("drawProbe", &draw_probe_js);
  emscripten::function("sweepStimulus", &sweep_stimulus_js);
  emscripten::function("probeSweep", &probe_sweep_js);
}

}  // namespace cortexlens::wasm
