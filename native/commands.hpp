// Subcommands of `cortexlens` that live in their own files (native/cmd_<name>.cpp). Each takes the arguments
// after its name, parses them with an ArgParser (args.hpp), prints only its results, and returns an Outcome that
// main prints and turns into the exit status (0 ok, 1 bad input with a one-line "cortexlens: ..." error on stderr,
// 2 usage).
// To add one: write native/cmd_<name>.cpp, declare it here, add it to kCommands in cli.cpp and to
// native/CMakeLists.txt.
#pragma once

#include <string>

#include "args.hpp"
#include "cortexlens/image.hpp"

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
// Writes a 112x112 (any size) RGB image as PNG (stb_image_write, compiled in cmd_synth.cpp).
Status write_png(const std::string& path, const RgbImage& image);

// Parametric probes and their tuning curves (native/cmd_probe.cpp).
Outcome run_probe(const Args& args);

// Nearly identical images: a blend or a transform in N steps, the responses along it (native/cmd_path.cpp).
Outcome run_path(const Args& args);

// The smallest change that moves a neuron, and its sweep over all per-neuron models (native/cmd_perturb.cpp).
Outcome run_perturb(const Args& args);
Outcome run_perturb_sweep(const Args& args);

// An 8-bit RGB image as a PNG file (stb_image_write, native/cmd_synth.cpp).
Status write_png(const std::string& path, const RgbImage& image);

// Pruning a shared model to one neuron's compact model, and fitting a neuron's responses (native/cmd_prune.cpp).
Outcome run_prune(const Args& args);
Outcome run_fit(const Args& args);

// A portrait of every neuron model of a site's pack: synthesized extremes and natural extremes
// (native/cmd_portraits.cpp).
Outcome run_portraits(const Args& args);

}  // namespace cortexlens::cli
