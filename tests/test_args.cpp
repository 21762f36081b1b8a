// The command-line argument parser (native/args.hpp): typed values and their ranges, positionals, and the one
// message each mistake gets (what was found, what was expected).
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

#include "args.hpp"
#include "cortexlens/isa.hpp"

using namespace cortexlens::cli;

namespace {

enum class Precision { int8, float32 };

// A command shaped like `synth`/`predict`: every kind of declaration once.
struct Example {
  std::string model, out;
  std::vector<std::string> images, only;
  bool minimize = false;
  int steps = 1000;
  std::uint64_t seed = 1;
  Precision precision = Precision::float32;
  int first = 601, last = 1200;
  int x = 0, y = 0, side = 0;
  double percentile = 99.99;
  ArgParser parser{"example", "usage: cortexlens example MODEL IMAGE... -o OUT\n"};

  Example() {
    parser.positional("MODEL", model)
        .positionals("IMAGE", images, 1)
        .text("-o|--output", "OUT", out)
        .required()
        .flag("--minimize", minimize)
        .integer("--steps", "N", 1, 100000, steps)
        .integer("--seed", "S", 0, std::numeric_limits<long long>::max(), seed)
        .choice("--precision", "P", {{"int8", Precision::int8}, {"float", Precision::float32}}, precision)
        .range("--images", 1, std::numeric_limits<long long>::max(), first, last)
        .integers("--crop", "X,Y,SIDE", ',', {&x, &y, &side}, std::numeric_limits<int>::min(),
                  std::numeric_limits<int>::max())
        .list("--only", "ID,...", only)
        .custom("--percentile", "P", "a number in (50, 100]", [this](const std::string& text) {
          char* end = nullptr;
          percentile = std::strtod(text.c_str(), &end);
          return !text.empty() && *end == 0 && percentile > 50 && percentile <= 100;
        });
  }
  Outcome parse(const Args& args) { return parser.parse(args); }
};

// The usage error's message for `args`, or a note that there was none.
std::string error_of(const Args& args) {
  Example example;
  const Outcome outcome = example.parse(args);
  if (outcome.kind() != Outcome::Kind::usage_error) return "(no usage error)";
  CHECK(outcome.exit_code() == 2);
  return outcome.message();
}

}  // namespace

TEST_CASE("typed values are stored, defaults kept for options not given", "[args]") {
  Example e;
  const Outcome outcome =
      e.parse({"m.keras", "--steps", "250", "a.png", "-o", "out.png", "--precision", "int8", "b.png", "--images",
               "1-600", "--crop=-4,10,96", "--minimize", "--only", "190923_n0,,shared_100", "--percentile", "99.9"});
  REQUIRE(outcome.is_ok());
  CHECK(outcome.exit_code() == 0);
  CHECK(e.model == "m.keras");
  CHECK(e.images == std::vector<std::string>{"a.png", "b.png"});
  CHECK(e.out == "out.png");
  CHECK(e.steps == 250);
  CHECK(e.seed == 1);  // not given: the default stays
  CHECK(e.precision == Precision::int8);
  CHECK(e.first == 1);
  CHECK(e.last == 600);
  CHECK(e.x == -4);
  CHECK(e.y == 10);
  CHECK(e.side == 96);
  CHECK(e.minimize);
  CHECK(e.only == std::vector<std::string>{"190923_n0", "shared_100"});
  CHECK(e.percentile == 99.9);
  CHECK(e.parser.given("--crop"));
  CHECK(e.parser.given("--output"));  // an alias finds the same option
  CHECK_FALSE(e.parser.given("--seed"));
}

TEST_CASE("an alias and --name=value give the same value", "[args]") {
  Example e;
  REQUIRE(e.parse({"m", "i", "--output=o.png", "--steps=7", "--seed", "9007199254740993"}).is_ok());
  CHECK(e.out == "o.png");
  CHECK(e.steps == 7);
  CHECK(e.seed == 9007199254740993ull);  // beyond a double's exact integers: parsed as an integer
}

TEST_CASE("integers out of range or malformed are refused with the range", "[args]") {
  CHECK(error_of({"m", "i", "-o", "o", "--steps", "abc"}) == "--steps: expected an integer in 1..100000, found 'abc'");
  CHECK(error_of({"m", "i", "-o", "o", "--steps", "0"}) == "--steps: expected an integer in 1..100000, found '0'");
  CHECK(error_of({"m", "i", "-o", "o", "--steps", "100001"}) ==
        "--steps: expected an integer in 1..100000, found '100001'");
  CHECK(error_of({"m", "i", "-o", "o", "--steps", "12x"}) == "--steps: expected an integer in 1..100000, found '12x'");
  CHECK(error_of({"m", "i", "-o", "o", "--steps", " 12"}) == "--steps: expected an integer in 1..100000, found ' 12'");
  CHECK(error_of({"m", "i", "-o", "o", "--steps", "1.5"}) == "--steps: expected an integer in 1..100000, found '1.5'");
  CHECK(error_of({"m", "i", "-o", "o", "--seed", "-1"}) == "--seed: expected an integer >= 0, found '-1'");
  CHECK(error_of({"m", "i", "-o", "o", "--seed", "99999999999999999999"}) ==
        "--seed: expected an integer >= 0, found '99999999999999999999'");
}

TEST_CASE("choices, ranges, integer tuples and custom values say what they expected", "[args]") {
  CHECK(error_of({"m", "i", "-o", "o", "--precision", "int4"}) == "--precision: expected int8 or float, found 'int4'");
  CHECK(error_of({"m", "i", "-o", "o", "--images", "1200-601"}) ==
        "--images: expected FIRST-LAST with 1 <= FIRST <= LAST, found '1200-601'");
  CHECK(error_of({"m", "i", "-o", "o", "--images", "0-10"}) ==
        "--images: expected FIRST-LAST with 1 <= FIRST <= LAST, found '0-10'");
  CHECK(error_of({"m", "i", "-o", "o", "--images", "601"}) ==
        "--images: expected FIRST-LAST with 1 <= FIRST <= LAST, found '601'");
  CHECK(error_of({"m", "i", "-o", "o", "--crop", "1,2"}) == "--crop: expected X,Y,SIDE (3 integers), found '1,2'");
  CHECK(error_of({"m", "i", "-o", "o", "--crop", "1,2,3,4"}) ==
        "--crop: expected X,Y,SIDE (3 integers), found '1,2,3,4'");
  CHECK(error_of({"m", "i", "-o", "o", "--percentile", "50"}) ==
        "--percentile: expected a number in (50, 100], found '50'");
}

TEST_CASE("bounds of integer tuples are named, int's own limits are not", "[args]") {
  int y = 0, x = 0;
  ArgParser at("synth", "");
  at.integers("--at", "Y,X", ',', {&y, &x}, 0, std::numeric_limits<long long>::max());
  CHECK(at.parse({"--at", "3,-1"}).message() == "--at: expected Y,X (2 integers >= 0), found '3,-1'");
  ArgParser bounded("synth", "");
  bounded.integers("--at", "Y,X", ',', {&y, &x}, 0, 27);
  CHECK(bounded.parse({"--at", "3,28"}).message() == "--at: expected Y,X (2 integers in 0..27), found '3,28'");
  ArgParser fine("synth", "");
  fine.integers("--at", "Y,X", ',', {&y, &x}, 0, 27);
  REQUIRE(fine.parse({"--at", "3,27"}).is_ok());
  CHECK(y == 3);
  CHECK(x == 27);
}

TEST_CASE("integer bounds beyond the variable's type are clipped to it", "[args]") {
  int index = 0;
  std::uint8_t small = 0;
  ArgParser parser("synth", "");
  parser.integer("--output", "I", 0, std::numeric_limits<long long>::max(), index)
      .integer("--small", "N", -5, 1000, small);
  CHECK(parser.parse({"--output", "2147483648"}).message() == "--output: expected an integer >= 0, found '2147483648'");
  ArgParser second("synth", "");
  second.integer("--small", "N", -5, 1000, small);
  CHECK(second.parse({"--small", "256"}).message() == "--small: expected an integer in 0..255, found '256'");
  ArgParser third("synth", "");
  third.integer("--small", "N", -5, 1000, small);
  REQUIRE(third.parse({"--small", "255"}).is_ok());
  CHECK(small == 255);
}

TEST_CASE("unknown options are refused with the list of valid ones", "[args]") {
  CHECK(error_of({"m", "i", "-o", "o", "--step", "10"}) ==
        "unknown option '--step'; example takes -o, --minimize, --steps, --seed, --precision, --images, --crop, "
        "--only, --percentile, --help");
  CHECK_THAT(error_of({"m", "i", "-o", "o", "-x"}), Catch::StartsWith("unknown option '-x'; example takes -o,"));
  CHECK_THAT(error_of({"m", "i", "-o", "o", "--bogus=3"}), Catch::StartsWith("unknown option '--bogus'; "));
}

TEST_CASE("a missing value is reported, also when the next argument is another option", "[args]") {
  CHECK(error_of({"m", "i", "-o", "o", "--steps"}) ==
        "--steps: expected an integer in 1..100000, found nothing after it");
  CHECK(error_of({"m", "i", "-o", "--steps", "5"}) == "-o: expected OUT, found the option --steps");
  CHECK(error_of({"m", "i", "--minimize=yes", "-o", "o"}) == "--minimize: takes no value, found 'yes'");
}

TEST_CASE("an option given twice is refused, whichever value came first", "[args]") {
  CHECK(error_of({"m", "i", "-o", "o", "--steps", "10", "--steps", "20"}) ==
        "--steps: given twice ('10', then '20'), expected once");
  CHECK(error_of({"m", "i", "-o", "a", "--output", "b"}) == "-o: given twice ('a', then 'b'), expected once");
  CHECK(error_of({"m", "i", "-o", "o", "--minimize", "--minimize"}) == "--minimize: given twice, expected once");
}

TEST_CASE("positionals: too few, too many, and required options", "[args]") {
  CHECK(error_of({"-o", "o"}) == "expected MODEL, found none");
  CHECK(error_of({"m", "-o", "o"}) == "expected at least 1 IMAGE, found 0");
  CHECK(error_of({"m", "i"}) == "-o OUT is required, found no -o");

  std::string model;
  ArgParser one("info", "");
  one.positional("MODEL", model);
  CHECK(one.parse({"a.keras", "b.keras"}).message() ==
        "info takes MODEL (and options), found another argument 'b.keras'");
  ArgParser none("fidelity", "");
  CHECK(none.parse({"x"}).message() == "fidelity takes no arguments (and options), found another argument 'x'");
}

TEST_CASE("--help or -h anywhere asks for the usage, even beside mistakes", "[args]") {
  for (const Args& args : {Args{"--help"}, Args{"m", "-h"}, Args{"--steps", "abc", "--help"}}) {
    Example e;
    const Outcome outcome = e.parse(args);
    CHECK(outcome.kind() == Outcome::Kind::help);
    CHECK(outcome.exit_code() == 0);
    CHECK(std::string(outcome.usage()) == "usage: cortexlens example MODEL IMAGE... -o OUT\n");
  }
}

TEST_CASE("a failed Status becomes a failure outcome (exit 1), an ok one an ok outcome", "[args]") {
  const Outcome failure = cortexlens::Status::error("'x.keras': no such file");
  CHECK(failure.kind() == Outcome::Kind::failure);
  CHECK(failure.exit_code() == 1);
  CHECK(failure.message() == "'x.keras': no such file");
  const Outcome ok = cortexlens::Status::ok();
  CHECK(ok.is_ok());
  CHECK(ok.exit_code() == 0);
  CHECK(ArgParser("x", "U").usage_error("--layer and --channel go together").exit_code() == 2);
}

TEST_CASE("--isa is taken out of any command's arguments and applied before the command parses them", "[args][isa]") {
  const cortexlens::Isa saved = cortexlens::active_isa();
  const char* usage = "usage: cortexlens ...\n";
  Args args = {"predict", "m.keras", "--isa", "sse", "a.png"};
  REQUIRE(apply_isa_option(args, usage).is_ok());
  CHECK(args == Args{"predict", "m.keras", "a.png"});
  CHECK(cortexlens::active_isa() == cortexlens::Isa::sse);

  args = {"--isa=scalar", "info", "m.keras"};
  REQUIRE(apply_isa_option(args, usage).is_ok());
  CHECK(args == Args{"info", "m.keras"});
  CHECK(cortexlens::active_isa() == cortexlens::Isa::scalar);

  args = {"info", "m.keras"};
  REQUIRE(apply_isa_option(args, usage).is_ok());  // absent: nothing changes
  CHECK(cortexlens::active_isa() == cortexlens::Isa::scalar);

  args = {"info", "--isa", "avx3"};
  Outcome unknown = apply_isa_option(args, usage);
  CHECK(unknown.kind() == Outcome::Kind::usage_error);
  CHECK(unknown.message() == "--isa: unknown instruction set 'avx3', expected scalar, sse, avx2 or avx512");

  args = {"info", "m.keras", "--isa"};
  CHECK(apply_isa_option(args, usage).message() ==
        "--isa: expected scalar, sse, avx2 or avx512, found nothing after it");
  args = {"info", "--isa", "--help"};
  CHECK(apply_isa_option(args, usage).message() == "--isa: expected scalar, sse, avx2 or avx512, found '--help'");
  args = {"info", "--isa", "sse", "--isa=scalar"};
  CHECK(apply_isa_option(args, usage).message() == "--isa: given twice ('sse', then 'scalar'), expected once");

  // A path this CPU lacks is a failure (exit 1) that names what it supports.
  const std::vector<cortexlens::Isa> supported = cortexlens::supported_isas();
  if (supported.back() != cortexlens::Isa::avx512) {
    args = {"info", "--isa", "avx512"};
    Outcome refused = apply_isa_option(args, usage);
    CHECK(refused.kind() == Outcome::Kind::failure);
    CHECK_THAT(refused.message(), Catch::StartsWith("--isa: this CPU (or this build) cannot run avx512: it supports "));
  }
  for (cortexlens::Isa isa : supported) {
    args = {"info", std::string("--isa=") + cortexlens::isa_name(isa)};
    CHECK(apply_isa_option(args, usage).is_ok());
    CHECK(cortexlens::active_isa() == isa);
  }
  REQUIRE(cortexlens::set_isa(saved));
}
