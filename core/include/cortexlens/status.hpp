// The one error channel of the core: every fallible call returns a Status or a Result<T>.
// Messages say what was found and what was expected, e.g.
//   "layer 'layer1_conv': depthwise kernel has shape (5,5,48,2), expected (5,5,48,1)".
// The core never throws and never aborts on bad input; the wasm edge turns a failed Status into a JS Error.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace cortexlens {

class Status {
 public:
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message)); }

  bool is_ok() const { return !message_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  // Empty for an ok status.
  const std::string& message() const {
    static const std::string empty;
    return message_ ? *message_ : empty;
  }
  // Prefixes context ("loading 'x.keras': ") onto an error; an ok status stays ok.
  Status with_context(const std::string& context) const { return is_ok() ? *this : Status(context + message_.value()); }

 private:
  Status() = default;
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

// A value or the error that prevented it.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)), status_(Status::ok()) {}  // NOLINT: implicit by design
  Result(Status error)                                                  // NOLINT: implicit by design
      : status_(error.is_ok() ? Status::error("internal error: a Result was built from an ok Status without a value")
                              : std::move(error)) {}

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }
  const std::string& message() const { return status_.message(); }

  // Precondition: is_ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace cortexlens

// Early return of a failed Status from a function returning Status or Result<T>.
#define CL_RETURN_IF_ERROR(expr)                \
  do {                                          \
    ::cortexlens::Status cl_status_ = (expr);   \
    if (!cl_status_.is_ok()) return cl_status_; \
  } while (0)
