// The argument parser every `cortexlens` command uses. A command declares its positional arguments and options
// (with their types and ranges), parses once, and either gets its values or one message that says what was found
// and what was expected, e.g. "--steps: expected an integer in 1..100000, found 'abc'".
//
//   std::string model, out;
//   int steps = 1000;
//   ArgParser parser("synth", kSynthUsage);
//   parser.positional("MODEL", model).text("-o", "OUT.png", out).required().integer("--steps", "N", 1, 100000, steps);
//   if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;  // --help, or a usage error
//
// Rules, the same for every command: options may come before, between or after positionals; a value follows its
// option as the next argument or after '=' (--steps=10); an option given twice is refused (the first would be
// silently lost otherwise); an argument starting with '-' that is not declared is refused with the list of valid
// ones; -h or --help anywhere asks for the command's usage.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "cortexlens/status.hpp"

namespace cortexlens::cli {

using Args = std::vector<std::string>;

// How a command ended, for main to print and to turn into the exit status: ok (0); help, the usage on stdout (0);
// a usage error, the message and the usage on stderr (2); a failure, bad input or I/O, the message on stderr (1).
// Built implicitly from a Status, so a command returns a failed Status (or CL_RETURN_IF_ERROR) as a failure.
class Outcome {
 public:
  enum class Kind { ok, help, usage_error, failure };

  Outcome(const Status& status);  // NOLINT: implicit by design, ok or failure
  static Outcome ok() { return Outcome(Status::ok()); }
  static Outcome help(const char* usage) { return Outcome(Kind::help, "", usage); }
  static Outcome usage_error(std::string message, const char* usage) {
    return Outcome(Kind::usage_error, std::move(message), usage);
  }

  Kind kind() const { return kind_; }
  bool is_ok() const { return kind_ == Kind::ok; }
  const std::string& message() const { return message_; }  // empty for ok and help
  const char* usage() const { return usage_; }             // help and usage errors only
  int exit_code() const;

 private:
  Outcome(Kind kind, std::string message, const char* usage)
      : kind_(kind), message_(std::move(message)), usage_(usage) {}
  Kind kind_ = Kind::ok;
  std::string message_;
  const char* usage_ = "";
};

class ArgParser {
 public:
  // `command` names the command in messages; `usage` is what --help and usage errors print.
  ArgParser(std::string command, const char* usage) : command_(std::move(command)), usage_(usage) {}

  // Positionals are taken in declaration order: one required argument, then (optionally) all the rest.
  ArgParser& positional(std::string name, std::string& out);
  ArgParser& positionals(std::string name, std::vector<std::string>& out, std::size_t min_count);

  // Options. `names` is the option and its aliases separated by '|' ("-o|--output"); `value_name` is how the
  // usage writes the value ("N", "DIR"). Options not given keep the value their variable already holds.
  ArgParser& flag(const std::string& names, bool& out);
  ArgParser& text(const std::string& names, std::string value_name, std::string& out);
  // Comma-separated words ("211022_n40,shared_100"); empty words are dropped.
  ArgParser& list(const std::string& names, std::string value_name, std::vector<std::string>& out);
  // A decimal integer in [low, high] (clipped to T's range), stored as T.
  template <typename T>
  ArgParser& integer(const std::string& names, std::string value_name, long long low, long long high, T& out);
  // One of a fixed set of words, each standing for a value: {{"int8", Precision::int8}, {"float", ...}}.
  template <typename T>
  ArgParser& choice(const std::string& names, std::string value_name, std::vector<std::pair<std::string, T>> choices,
                    T& out);
  // FIRST-LAST with low <= FIRST <= LAST <= high ("601-1200"); the bounds are clipped to int's range.
  ArgParser& range(const std::string& names, long long low, long long high, int& first, int& last);
  // `outs.size()` integers in [low, high] (clipped to int's range) separated by `separator`: --crop X,Y,SIDE.
  ArgParser& integers(const std::string& names, std::string value_name, char separator, std::vector<int*> outs,
                      long long low, long long high);
  // Any other value: `store` returns false when the text is not `expected` (which completes "expected ...").
  ArgParser& custom(const std::string& names, std::string value_name, std::string expected,
                    std::function<bool(const std::string&)> store);
  // The option declared last must be given.
  ArgParser& required();

  // Ok when the arguments fit the declarations (the variables then hold them); otherwise help or a usage error.
  Outcome parse(const Args& args);
  // After parse: whether the option (any of its names) was on the command line.
  bool given(const std::string& name) const;
  // A usage error found after parsing (arguments that only make sense together), with this command's usage.
  Outcome usage_error(std::string message) const { return Outcome::usage_error(std::move(message), usage_); }

 private:
  struct Option {
    std::vector<std::string> names;  // names[0] is the one messages use
    std::string value_name;          // empty for a flag
    std::string expected;            // completes "expected ..."
    std::function<bool(const std::string&)> store;
    bool required = false;
    bool given = false;
    std::string value;  // as given, for the message about a repeat
  };
  struct Positional {
    std::string name;
    std::string* one = nullptr;
    std::vector<std::string>* rest = nullptr;
    std::size_t min_count = 1;
  };

  ArgParser& add_option(const std::string& names, std::string value_name, std::string expected,
                        std::function<bool(const std::string&)> store);
  Option* find(const std::string& name);
  const Option* find(const std::string& name) const;
  std::string option_list() const;
  Status take_option(const Args& args, std::size_t& i);
  Status take_positional(const std::string& arg, std::size_t& next_positional);

  std::string command_;
  const char* usage_;
  std::vector<Option> options_;
  std::vector<Positional> positionals_;
};

// The option every command accepts, wherever it stands on the command line: --isa scalar|sse|avx2|avx512 (or
// --isa=NAME) forces the instruction set the kernels run on (cortexlens/isa.hpp). Removes it from `args` and
// applies it with set_isa before the command parses the rest. An unknown name or a missing value is a usage error
// (with `usage`); a path this CPU cannot run is a failure naming the ones it can ("this CPU (or this build) cannot
// run avx512: it supports scalar, sse, avx2").
Outcome apply_isa_option(Args& args, const char* usage);

// Parsing helpers, exposed for the tests and for commands' own value types.
// A whole decimal integer (optional sign, no spaces or trailing characters) in [low, high].
bool parse_integer(const std::string& text, long long low, long long high, long long& out);
// "an integer in 1..64", "an integer >= 0" (when high is the largest long long).
std::string integer_expectation(long long low, long long high);

template <typename T>
ArgParser& ArgParser::integer(const std::string& names, std::string value_name, long long low, long long high, T& out) {
  // Bounds beyond T's range are clipped to it. An upper bound of int's limit or more is no limit anyone types, so
  // messages leave it out ("an integer >= 0").
  constexpr unsigned long long type_max = std::numeric_limits<T>::max();
  constexpr long long largest = type_max > static_cast<unsigned long long>(std::numeric_limits<long long>::max())
                                    ? std::numeric_limits<long long>::max()
                                    : static_cast<long long>(type_max);
  constexpr long long smallest = std::numeric_limits<T>::is_signed ? std::numeric_limits<T>::min() : 0;
  low = std::max(low, smallest);
  high = std::min(high, largest);
  const long long shown_high = high >= std::numeric_limits<int>::max() ? std::numeric_limits<long long>::max() : high;
  return add_option(names, std::move(value_name), integer_expectation(low, shown_high),
                    [&out, low, high](const std::string& text) {
                      long long value = 0;
                      if (!parse_integer(text, low, high, value)) return false;
                      out = static_cast<T>(value);
                      return true;
                    });
}

template <typename T>
ArgParser& ArgParser::choice(const std::string& names, std::string value_name,
                             std::vector<std::pair<std::string, T>> choices, T& out) {
  std::string expected;
  for (std::size_t i = 0; i < choices.size(); ++i)
    expected += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i].first;
  return add_option(names, std::move(value_name), expected, [&out, choices](const std::string& text) {
    for (const auto& [word, value] : choices)
      if (text == word) {
        out = value;
        return true;
      }
    return false;
  });
}

}  // namespace cortexlens::cli
