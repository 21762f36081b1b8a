// A neuron's recorded responses, as a lab brings them to `cortexlens fit` and to the page's model lab, and the model
// of that neuron they give: a ridge-regression readout on a shared model's features (the authors' linear mapping,
// cowleygroup/V4_compact_models classes/class_linear_mapping_ridgereg.py; ours is an independent implementation).
// The page and the CLI share this file, so a file gets the same messages and the same model in both.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cortexlens/model.hpp"
#include "cortexlens/prune.hpp"
#include "cortexlens/regression.hpp"
#include "cortexlens/status.hpp"
#include "cortexlens/tensor.hpp"

namespace cortexlens {

// The recorded sessions whose images the published data (and a site built from it) ships, 1200 images each.
inline const std::vector<std::string> kImageSessions = {"190923", "201025", "210225"};

// Fewer responses than this cannot fit a cross-validated readout and leave enough held-out images for an r.
inline constexpr std::size_t kMinResponses = 50;

struct ResponseRow {
  std::string image;  // "190923/0001" (a shipped session image) or a file name among the lab's own images
  double response = 0.0;
  int line = 0;  // 1-based line in the file
};

struct ResponseCsv {
  std::vector<ResponseRow> rows;  // file order
};

// A whole decimal number (strtod syntax, nothing after it) that is finite.
bool parse_finite_number(const std::string& text, double& out);

// CSV rows "image,response" (a header line is allowed), checked line by line: a bad file gets a message naming the
// line, what was found and what was expected. `source` names the file in messages. With own_images false, every
// image must be a shipped session image (SESSION/NUMBER, SESSION one of kImageSessions, NUMBER 1..1200, also written
// SESSION/imageNNNN.jpg; normalised to SESSION/NNNN); with own_images true it is a relative file name (no "..").
Result<ResponseCsv> parse_response_csv(const std::string& text, const std::string& source, bool own_images);

// Every 5th row, in file order, is held out to measure r; the others fit the readout.
inline bool held_out_row(std::size_t row) { return row % 5 == 4; }

struct NeuronFit {
  Model model;  // the shared model's trunk and a fitted dense readout: one output, named as asked
  int fit_images = 0, heldout_images = 0, features = 0;
  double lambda = 0.0;     // the ridge penalty chosen by 5-fold cross-validation (absolute, units of |X|^2)
  double heldout_r = 0.0;  // Pearson r of the model's predictions and the responses on the held-out rows
  Interval heldout_ci;     // its 95% interval (Fisher z)
};

// Fits a neuron's readout on the features of `shared` (its last stage, flattened) from inputs[i] -> responses[i],
// the rows held_out_row() names kept apart to measure r. Refused with a message when the sizes differ, there are
// fewer than kMinResponses rows, or the responses do not vary.
Result<NeuronFit> fit_neuron(const Model& shared, const std::vector<Tensor>& inputs,
                             const std::vector<double>& responses, const std::string& name,
                             const PruneOptions& options);

}  // namespace cortexlens
