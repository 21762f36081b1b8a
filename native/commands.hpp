// Subcommands of `cortexlens` that live in their own files (native/cmd_<name>.cpp). Each takes the arguments
// after its name, prints its own usage on bad arguments, and returns the process exit status
// (0 ok, 1 bad input with a one-line "cortexlens: ..." error on stderr, 2 usage).
// To add one: write native/cmd_<name>.cpp, declare it here, add it to kCommands in cli.cpp and to
// native/CMakeLists.txt.
#pragma once

#include <string>
#include <vector>

namespace cortexlens::cli {

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;  // one line for `cortexlens --help`
  int (*run)(const Args& args);
};

// Model files and packs (native/cmd_convert.cpp, cmd_fidelity.cpp, cmd_pack.cpp).
int run_convert(const Args& args);
int run_fidelity(const Args& args);
int run_pack(const Args& args);

// Preferred-image synthesis (native/cmd_synth.cpp).
int run_synth(const Args& args);
int run_synth_check(const Args& args);

}  // namespace cortexlens::cli
