// Screening: every model over every image of a collection, the engine of `cortexlens screen` and of the Python
// package's `cortexlens.screen` (one code path, so both give the same numbers, progress and checkpoints).
//
// Images are the outer loop, in chunks: a chunk is read (one thread: archives are streams), decoded once (every
// core), then every model runs over it (every core: one ModelRunner per worker, reused over a slice of images),
// then the checkpoint is written. Where a response lands depends only on its image and output, never on which
// thread computed it, so the result is the same for any thread count and chunk size, and a resumed run continues
// exactly where the checkpoint left off.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "cortexlens/model.hpp"
#include "cortexlens/quantize.hpp"
#include "image_sources.hpp"
#include "screen_report.hpp"

namespace cortexlens {

struct ScreenModel {
  std::string path;
  Model model;
  Precision precision = Precision::float32;
  std::size_t first_column = 0;  // of its outputs in the response table
};

// Model files (.keras, .clm) and folders of them (their model files in natural order: "neuron2" before
// "neuron10"). Fails naming a path that does not exist or a folder without model files.
Result<std::vector<std::string>> list_model_paths(const std::vector<std::string>& arguments);

// Loads the models of list_model_paths(arguments), each at `precision` (default: the file's own; int8 needs an int8
// .clm file), checks they take (112, 112, 3) inputs, and numbers their outputs into one table of columns.
Result<std::vector<ScreenModel>> load_screen_models(const std::vector<std::string>& arguments,
                                                    std::optional<Precision> precision);

// The total number of outputs: the response table's columns.
std::size_t screen_columns(const std::vector<ScreenModel>& models);

struct ScreenOptions {
  // The collection's entries [first, first + count) are screened (count clipped to the collection's end): a shard
  // of a larger run. Image indices in a ScreenRun are relative to `first`.
  std::size_t first = 0;
  std::size_t count = std::numeric_limits<std::size_t>::max();
  std::size_t chunk = 256;  // images decoded and checkpointed together, >= 1
  int threads = 1;          // >= 1
  // The checkpoint file (screen_state.hpp), rewritten after every chunk; empty: no checkpoint. An existing one is
  // resumed from with `resume`, and refused without it (never silently overwritten) or when it is of another run.
  std::string checkpoint;
  bool resume = false;
  std::size_t stop_after = 0;  // stop after this many chunks as an interruption would (tests); 0: never
};

// What a run tells its caller while it works. Every call comes from the thread that called screen_images, except
// the done_now function given to started(), which any thread may call at any time.
class ScreenObserver {
 public:
  virtual ~ScreenObserver() = default;
  // Before the first chunk: the images of the run, how many the checkpoint already holds, and a function giving
  // the images done so far (fractional within a chunk) for a progress display.
  virtual void started(std::size_t /*total*/, std::size_t /*resumed_from*/,
                       const std::function<double()>& /*done_now*/) {}
  // A line for the user: an image skipped, a missing checkpoint.
  virtual void note(const std::string& /*message*/) {}
  // After each chunk and its checkpoint: `done` of `total` images finished. Returning false stops the run as an
  // interruption would (the checkpoint holds what is done; screen_images returns an error saying so).
  virtual bool chunk_done(std::size_t /*done*/, std::size_t /*total*/) { return true; }
  // After the last chunk or a stop, before screen_images returns.
  virtual void finished() {}
};

struct ScreenRun {
  std::vector<ImageEntry> images;      // the run's images (the range's entries), in run order
  std::size_t columns = 0;             // screen_columns(models)
  std::vector<float> responses;        // (images, columns); NaN where an image failed
  std::vector<ImageFailure> failures;  // in image order, indices into `images`
  std::size_t resumed_from = 0;        // images the checkpoint already held
};

// Runs every model over the images. Fails (naming the model and image) when a model cannot run, when the
// checkpoint cannot be read, written or resumed from, and when stopped (stop_after, or the observer).
// An image that cannot be read or decoded is not a failure of the run: it is listed in ScreenRun::failures.
Result<ScreenRun> screen_images(ImageCollection& collection, const std::vector<ScreenModel>& models,
                                const ScreenOptions& options, ScreenObserver& observer);

// The report of a finished run: per model output the top_k strongest and weakest images and the quantiles.
ScreenReport screen_report(const ScreenRun& run, const std::vector<ScreenModel>& models, std::size_t top_k);

}  // namespace cortexlens
