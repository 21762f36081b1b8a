// Subcommands of `cortexlens` that live in their own files (native/cmd_<name>.cpp). Each takes the arguments
// after its name, parses them with an ArgParser (args.hpp), prints only its results, and returns an Outcome that
// main prints and turns into the exit status (0 ok, 1 bad input with a one-line "cortexlens: ..." error on stderr,
// 2 usage).
// To add one: write native/cmd_<name>.cpp, declare it here, add it to kCommands in cli.cpp and to
// native/CMakeLists.txt.
#pragma once

#include "args.hpp"

namespace cortexlens::cli {

struct Command {
  const char* name;
  const char* summary;  // one line for `cortexlens --help`; null for the commands kUsage describes itself
  Outcome (*run)(const Args& args);
};

// Model files and packs (native/cmd_convert.cpp, cmd_fidelity.cpp, cmd_pack.cpp).
Outcome run_convert(const Args& args);
Outcome run_fidelity(const Args& args);
Outcome run_pack(const Args& args);

// Every model over every image: extremes and quantiles per output, resumable (native/cmd_screen.cpp).
Outcome run_screen(const Args& args);

// Preferred-image synthesis (native/cmd_synth.cpp).
Outcome run_synth(const Args& args);
Outcome run_synth_check(const Args& args);

// Pruning a shared model to one neuron's compact model, and fitting a neuron's responses (native/cmd_prune.cpp).
Outcome run_prune(const Args& args);
Outcome run_fit(const Args& args);

}  // namespace cortexlens::cli
