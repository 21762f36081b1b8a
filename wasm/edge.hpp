// The wasm edge: the only place where a core Status becomes a JS Error, and where typed arrays cross over.
// Everything returned to JS is a copy, so no JS object ever points into wasm memory that may grow or be freed.
#pragma once

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cortexlens/status.hpp"
#include "cortexlens/tensor.hpp"

namespace cortexlens::wasm {

using emscripten::val;

[[noreturn]] inline void throw_js_error(const std::string& message) {
  val::global("Error").new_(val(message)).throw_();
}

inline void throw_if_error(const Status& status) {
  if (!status.is_ok()) throw_js_error(status.message());
}

template <typename T>
T take_or_throw(Result<T>&& result) {
  if (!result.is_ok()) throw_js_error(result.message());
  return std::move(result).value();
}

inline val float32_array(const float* data, std::size_t count) {
  return val::global("Float32Array").new_(emscripten::typed_memory_view(count, data));
}
inline val float32_array(const std::vector<float>& values) { return float32_array(values.data(), values.size()); }

inline val uint8_array(const std::vector<std::uint8_t>& values) {
  return val::global("Uint8Array").new_(emscripten::typed_memory_view(values.size(), values.data()));
}

inline val shape_array(const Shape3& s) {
  val array = val::array();
  array.call<void>("push", s.h, s.w, s.c);
  return array;
}

// Copies a JS typed array (or array of numbers) into a vector, refusing anything that is not array-like.
template <typename T>
std::vector<T> to_vector(const val& array, const char* what) {
  if (array.isNull() || array.isUndefined() || !array["length"].isNumber())
    throw_js_error(std::string(what) + " must be a typed array or an array of numbers");
  return emscripten::convertJSArrayToNumberVector<T>(array);
}

}  // namespace cortexlens::wasm
