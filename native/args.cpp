#include "args.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "cortexlens/isa.hpp"

namespace cortexlens::cli {

Outcome::Outcome(const Status& status) : kind_(status.is_ok() ? Kind::ok : Kind::failure), message_(status.message()) {}

int Outcome::exit_code() const {
  switch (kind_) {
    case Kind::ok:
    case Kind::help:
      return 0;
    case Kind::failure:
      return 1;
    case Kind::usage_error:
      return 2;
  }
  return 1;
}

bool parse_integer(const std::string& text, long long low, long long high, long long& out) {
  // strtoll alone would accept leading spaces; the first character must start the number.
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-' || text[0] == '+'))
    return false;
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (*end != 0 || errno != 0 || value < low || value > high) return false;
  out = value;
  return true;
}

std::string integer_expectation(long long low, long long high) {
  if (high == std::numeric_limits<long long>::max()) return "an integer >= " + std::to_string(low);
  return "an integer in " + std::to_string(low) + ".." + std::to_string(high);
}

ArgParser& ArgParser::positional(std::string name, std::string& out) {
  positionals_.push_back({std::move(name), &out, nullptr, 1});
  return *this;
}

ArgParser& ArgParser::positionals(std::string name, std::vector<std::string>& out, std::size_t min_count) {
  positionals_.push_back({std::move(name), nullptr, &out, min_count});
  return *this;
}

ArgParser& ArgParser::add_option(const std::string& names, std::string value_name, std::string expected,
                                 std::function<bool(const std::string&)> store) {
  Option option;
  for (std::size_t begin = 0; begin <= names.size();) {
    const std::size_t bar = std::min(names.find('|', begin), names.size());
    option.names.push_back(names.substr(begin, bar - begin));
    begin = bar + 1;
  }
  option.value_name = std::move(value_name);
  option.expected = std::move(expected);
  option.store = std::move(store);
  options_.push_back(std::move(option));
  return *this;
}

ArgParser& ArgParser::flag(const std::string& names, bool& out) {
  return add_option(names, "", "", [&out](const std::string&) { return out = true; });
}

ArgParser& ArgParser::text(const std::string& names, std::string value_name, std::string& out) {
  return add_option(names, value_name, value_name, [&out](const std::string& value) {
    out = value;
    return true;
  });
}

ArgParser& ArgParser::list(const std::string& names, std::string value_name, std::vector<std::string>& out) {
  return add_option(names, value_name, value_name, [&out](const std::string& value) {
    for (std::size_t begin = 0; begin <= value.size();) {
      const std::size_t comma = std::min(value.find(',', begin), value.size());
      if (comma > begin) out.push_back(value.substr(begin, comma - begin));
      begin = comma + 1;
    }
    return true;
  });
}

namespace {

// Splits "1,2,3" at `separator` into exactly `count` integers in [low, high].
bool split_integers(const std::string& text, char separator, std::size_t count, long long low, long long high,
                    std::vector<long long>& out) {
  out.clear();
  std::size_t begin = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t end = k + 1 < count ? text.find(separator, begin) : text.size();
    if (end == std::string::npos) return false;
    long long value = 0;
    if (!parse_integer(text.substr(begin, end - begin), low, high, value)) return false;
    out.push_back(value);
    begin = end + 1;
  }
  return true;
}

}  // namespace

ArgParser& ArgParser::range(const std::string& names, long long low, long long high, int& first, int& last) {
  low = std::max<long long>(low, std::numeric_limits<int>::min());
  high = std::min<long long>(high, std::numeric_limits<int>::max());
  std::string expected = "FIRST-LAST with " + std::to_string(low) + " <= FIRST <= LAST";
  if (high != std::numeric_limits<int>::max()) expected += " <= " + std::to_string(high);
  return add_option(names, "FIRST-LAST", expected, [&first, &last, low, high](const std::string& text) {
    std::vector<long long> values;
    if (!split_integers(text, '-', 2, low, high, values) || values[0] > values[1]) return false;
    first = static_cast<int>(values[0]);
    last = static_cast<int>(values[1]);
    return true;
  });
}

ArgParser& ArgParser::integers(const std::string& names, std::string value_name, char separator, std::vector<int*> outs,
                               long long low, long long high) {
  low = std::max<long long>(low, std::numeric_limits<int>::min());
  high = std::min<long long>(high, std::numeric_limits<int>::max());
  const bool bounded_below = low != std::numeric_limits<int>::min();
  const bool bounded_above = high != std::numeric_limits<int>::max();
  std::string expected = value_name + " (" + std::to_string(outs.size()) + " integers";
  if (bounded_below && bounded_above)
    expected += " in " + std::to_string(low) + ".." + std::to_string(high);
  else if (bounded_below)
    expected += " >= " + std::to_string(low);
  else if (bounded_above)
    expected += " <= " + std::to_string(high);
  expected += ")";
  return add_option(names, value_name, expected, [outs, separator, low, high](const std::string& text) {
    std::vector<long long> values;
    if (!split_integers(text, separator, outs.size(), low, high, values)) return false;
    for (std::size_t k = 0; k < outs.size(); ++k) *outs[k] = static_cast<int>(values[k]);
    return true;
  });
}

ArgParser& ArgParser::custom(const std::string& names, std::string value_name, std::string expected,
                             std::function<bool(const std::string&)> store) {
  return add_option(names, std::move(value_name), std::move(expected), std::move(store));
}

ArgParser& ArgParser::required() {
  if (!options_.empty()) options_.back().required = true;
  return *this;
}

ArgParser::Option* ArgParser::find(const std::string& name) {
  for (auto& option : options_)
    for (const auto& alias : option.names)
      if (alias == name) return &option;
  return nullptr;
}

const ArgParser::Option* ArgParser::find(const std::string& name) const {
  return const_cast<ArgParser*>(this)->find(name);
}

bool ArgParser::given(const std::string& name) const {
  const Option* option = find(name);
  return option && option->given;
}

std::string ArgParser::option_list() const {
  std::string list;
  for (const auto& option : options_) list += option.names[0] + ", ";
  return list + "--help";
}

Status ArgParser::take_option(const Args& args, std::size_t& i) {
  const std::string& arg = args[i];
  const std::size_t equals = arg.rfind("--", 0) == 0 ? arg.find('=') : std::string::npos;
  const std::string name = arg.substr(0, equals);
  Option* option = find(name);
  if (!option) return Status::error("unknown option '" + name + "'; " + command_ + " takes " + option_list());
  const std::string& label = option->names[0];
  std::string value;
  if (option->value_name.empty()) {
    if (equals != std::string::npos)
      return Status::error(label + ": takes no value, found '" + arg.substr(equals + 1) + "'");
  } else if (equals != std::string::npos) {
    value = arg.substr(equals + 1);
  } else {
    // An option name where the value should be means the value was forgotten, not that it is the value.
    const bool next_is_option = i + 1 < args.size() && (find(args[i + 1]) || args[i + 1] == "--help");
    if (i + 1 >= args.size() || next_is_option)
      return Status::error(label + ": expected " + option->expected + ", found " +
                           (next_is_option ? "the option " + args[i + 1] : std::string("nothing after it")));
    value = args[++i];
  }
  if (option->given) {
    if (option->value_name.empty()) return Status::error(label + ": given twice, expected once");
    return Status::error(label + ": given twice ('" + option->value + "', then '" + value + "'), expected once");
  }
  option->given = true;
  option->value = value;
  if (!option->store(value)) return Status::error(label + ": expected " + option->expected + ", found '" + value + "'");
  return Status::ok();
}

Status ArgParser::take_positional(const std::string& arg, std::size_t& next_positional) {
  if (next_positional >= positionals_.size()) {
    std::string takes = "no arguments";
    if (!positionals_.empty()) {
      takes.clear();
      for (const auto& p : positionals_) takes += (takes.empty() ? "" : " ") + p.name;
    }
    return Status::error(command_ + " takes " + takes + " (and options), found another argument '" + arg + "'");
  }
  Positional& positional = positionals_[next_positional];
  if (positional.one) {
    *positional.one = arg;
    ++next_positional;
  } else {
    positional.rest->push_back(arg);
  }
  return Status::ok();
}

Outcome ArgParser::parse(const Args& args) {
  for (const auto& arg : args)
    if (arg == "-h" || arg == "--help") return Outcome::help(usage_);
  std::size_t next_positional = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool looks_like_option = args[i].size() > 1 && args[i][0] == '-';
    const Status status = looks_like_option ? take_option(args, i) : take_positional(args[i], next_positional);
    if (!status) return usage_error(status.message());
  }
  for (std::size_t p = next_positional; p < positionals_.size(); ++p) {
    const Positional& positional = positionals_[p];
    if (positional.one) return usage_error("expected " + positional.name + ", found none");
    if (positional.rest->size() < positional.min_count)
      return usage_error("expected at least " + std::to_string(positional.min_count) + " " + positional.name +
                         ", found " + std::to_string(positional.rest->size()));
  }
  for (const auto& option : options_)
    if (option.required && !option.given)
      return usage_error(option.names[0] + " " + option.value_name + " is required, found no " + option.names[0]);
  return Outcome::ok();
}

Outcome apply_isa_option(Args& args, const char* usage) {
  std::string name;
  bool given = false;
  for (std::size_t i = 0; i < args.size();) {
    const bool separate = args[i] == "--isa";
    if (!separate && args[i].rfind("--isa=", 0) != 0) {
      ++i;
      continue;
    }
    std::string value;
    if (separate) {
      if (i + 1 >= args.size() || args[i + 1].rfind("-", 0) == 0)
        return Outcome::usage_error(
            "--isa: expected scalar, sse, avx2 or avx512, found " +
                (i + 1 >= args.size() ? std::string("nothing after it") : "'" + args[i + 1] + "'"),
            usage);
      value = args[i + 1];
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
    } else {
      value = args[i].substr(6);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (given)
      return Outcome::usage_error("--isa: given twice ('" + name + "', then '" + value + "'), expected once", usage);
    given = true;
    name = value;
  }
  if (!given) return Outcome::ok();
  auto isa = parse_isa(name);
  if (!isa) return Outcome::usage_error("--isa: " + isa.message(), usage);
  return set_isa(isa.value()).with_context("--isa: ");
}

}  // namespace cortexlens::cli
