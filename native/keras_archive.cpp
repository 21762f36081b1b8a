#include "keras_archive.hpp"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <zip.h>

#include <atomic>
#include <cstring>
#include <memory>

#include "child_process.hpp"

namespace cortexlens {

namespace {

struct ZipCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};

Result<std::vector<std::uint8_t>> read_member(zip_t* archive, const char* name, std::uint64_t limit) {
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(archive, name, 0, &stat) != 0)
    return Status::error(std::string("the archive has no '") + name +
                         "', expected a Keras 3 .keras file (config.json + model.weights.h5)");
  if (!(stat.valid & ZIP_STAT_SIZE) || stat.size > limit)
    return Status::error(std::string("'") + name + "' declares " + std::to_string(stat.size) +
                         " bytes, more than the limit of " + std::to_string(limit));
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zip_fopen(archive, name, 0), zip_fclose);
  if (!file) return Status::error(std::string("cannot open '") + name + "' in the archive: " + zip_strerror(archive));
  std::vector<std::uint8_t> data(stat.size);
  std::uint64_t done = 0;
  while (done < stat.size) {
    const zip_int64_t got = zip_fread(file.get(), data.data() + done, stat.size - done);
    if (got <= 0)
      return Status::error(std::string("'") + name + "' is truncated or corrupt: read " + std::to_string(done) +
                           " of " + std::to_string(stat.size) + " bytes (" + zip_file_strerror(file.get()) + ")");
    done += static_cast<std::uint64_t>(got);
  }
  return data;
}

// RAII for HDF5 identifiers.
struct H5Id {
  hid_t id = H5I_INVALID_HID;
  herr_t (*close)(hid_t) = nullptr;
  H5Id(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~H5Id() {
    if (id >= 0 && close) close(id);
  }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
};

struct VisitState {
  hid_t file;
  std::vector<NamedTensor>* tensors;
  Status status = Status::ok();
  std::int64_t visits = 0;
};

// libhdf5 visits an object once only if its header's link count says it has several links; a hostile file that
// links groups into a cycle under a count of 1 sends H5Ovisit round it forever with an ever longer path (found by
// fuzz_keras_archive: a 3.6 KB .keras held `cortexlens info` for minutes). A Keras 3 weights file has a few objects
// per layer and paths a few names deep, so these bounds end such a walk with a message instead.
constexpr std::int64_t kMaxVisits = 100'000;
constexpr std::size_t kMaxPathLength = 1024;

herr_t visit_object(hid_t root, const char* name, const H5O_info_t* info, void* data) {
  auto* state = static_cast<VisitState*>(data);
  if (++state->visits > kMaxVisits || std::strlen(name) > kMaxPathLength) {
    state->status = Status::error("the weights file's groups link back into themselves or are too many (over " +
                                  std::to_string(kMaxVisits) + " objects or a path over " +
                                  std::to_string(kMaxPathLength) + " characters); expected a Keras 3 weights file");
    return -1;
  }
  if (info->type != H5O_TYPE_DATASET) return 0;
  const std::string path = name;
  if (path.rfind("layers/", 0) != 0) return 0;  // optimizer/ and friends are training state
  if (static_cast<int>(state->tensors->size()) >= ArchiveLimits::max_datasets) {
    state->status =
        Status::error("the weights file has more than " + std::to_string(ArchiveLimits::max_datasets) + " datasets");
    return -1;
  }
  H5Id dataset(H5Dopen2(root, name, H5P_DEFAULT), H5Dclose);
  if (dataset.id < 0) {
    state->status = Status::error("cannot open dataset '" + path + "'");
    return -1;
  }
  H5Id type(H5Dget_type(dataset.id), H5Tclose);
  if (H5Tget_class(type.id) != H5T_FLOAT) {
    state->status = Status::error("dataset '" + path + "' is not floating point, expected float32 weights");
    return -1;
  }
  // The stored type's size comes from the file: a mutated one (fuzzing found 1.9 GB "floats") makes libhdf5
  // allocate conversion buffers of that size per value, gigabytes for a 58 KB file. IEEE half, single and double only.
  const std::size_t value_bytes = H5Tget_size(type.id);
  if (value_bytes != 2 && value_bytes != 4 && value_bytes != 8) {
    state->status = Status::error("dataset '" + path + "' stores floating-point values of " +
                                  std::to_string(value_bytes) + " bytes, expected 4 (float32; 2 or 8 also read)");
    return -1;
  }
  H5Id space(H5Dget_space(dataset.id), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.id);
  if (rank < 0 || rank > 8) {
    state->status = Status::error("dataset '" + path + "' has rank " + std::to_string(rank) + ", expected 0..8");
    return -1;
  }
  hsize_t dims[8] = {};
  H5Sget_simple_extent_dims(space.id, dims, nullptr);
  NamedTensor tensor;
  tensor.name = path;
  std::int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] > static_cast<hsize_t>(ArchiveLimits::max_dataset_elements) ||
        count * static_cast<std::int64_t>(dims[i]) > ArchiveLimits::max_dataset_elements) {
      state->status = Status::error("dataset '" + path + "' is larger than the limit of " +
                                    std::to_string(ArchiveLimits::max_dataset_elements) + " values");
      return -1;
    }
    count *= static_cast<std::int64_t>(dims[i]);
    tensor.shape.push_back(static_cast<std::int64_t>(dims[i]));
  }
  tensor.data.resize(static_cast<std::size_t>(count));
  if (count > 0 && H5Dread(dataset.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.data.data()) < 0) {
    state->status = Status::error("cannot read dataset '" + path + "' (corrupt or truncated HDF5 data)");
    return -1;
  }
  state->tensors->push_back(std::move(tensor));
  return 0;
}

Result<std::vector<NamedTensor>> read_weights_h5_here(const std::vector<std::uint8_t>& bytes) {
  // HDF5 prints its error stack to stderr by default; our message says what went wrong instead.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  if (bytes.size() < 8 || std::string(bytes.begin(), bytes.begin() + 8) != "\x89HDF\r\n\x1a\n")
    return Status::error("the weights are not an HDF5 file (no HDF5 signature), expected model.weights.h5");
  // H5LTopen_file_image copies the buffer (no flags), so `bytes` can be const.
  H5Id file(H5LTopen_file_image(const_cast<std::uint8_t*>(bytes.data()), bytes.size(), 0), H5Fclose);
  if (file.id < 0) return Status::error("the weights file is a corrupt or truncated HDF5 file");
  std::vector<NamedTensor> tensors;
  VisitState state{file.id, &tensors};
  if (H5Lexists(file.id, "layers", H5P_DEFAULT) <= 0)
    return Status::error("the weights file has no 'layers' group, expected Keras 3 weights (layers/<name>/vars/<j>)");
  const herr_t visited = H5Ovisit2(file.id, H5_INDEX_NAME, H5_ITER_INC, visit_object, &state, H5O_INFO_BASIC);
  if (!state.status.is_ok()) return state.status;
  if (visited < 0) return Status::error("the weights file is corrupt: its groups cannot be listed");
  return tensors;
}

// The child's tensors cross the pipe as: count, then per tensor its name's length and bytes, rank, dims, values.
// Both ends are this binary, so native byte order and sizes are the format.
template <typename T>
void put(std::vector<std::uint8_t>& out, const T& value) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(&value);
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

std::vector<std::uint8_t> serialize_tensors(const std::vector<NamedTensor>& tensors) {
  std::size_t total = sizeof(std::uint64_t);
  for (const auto& tensor : tensors)
    total += 3 * sizeof(std::uint64_t) + tensor.name.size() + tensor.shape.size() * sizeof(std::int64_t) +
             tensor.data.size() * sizeof(float);
  std::vector<std::uint8_t> out;
  out.reserve(total);
  put<std::uint64_t>(out, tensors.size());
  for (const auto& tensor : tensors) {
    put<std::uint64_t>(out, tensor.name.size());
    out.insert(out.end(), tensor.name.begin(), tensor.name.end());
    put<std::uint64_t>(out, tensor.shape.size());
    for (const std::int64_t dim : tensor.shape) put(out, dim);
    put<std::uint64_t>(out, tensor.data.size());
    const auto* values = reinterpret_cast<const std::uint8_t*>(tensor.data.data());
    out.insert(out.end(), values, values + tensor.data.size() * sizeof(float));
  }
  return out;
}

class Reader {
 public:
  explicit Reader(const std::vector<std::uint8_t>& bytes) : bytes_(bytes) {}
  bool take(void* out, std::uint64_t size) {
    if (size > bytes_.size() - at_) return false;
    if (size) std::memcpy(out, bytes_.data() + at_, size);
    at_ += size;
    return true;
  }
  bool take_count(std::uint64_t& count, std::uint64_t element_size) {
    return take(&count, sizeof count) && count <= (bytes_.size() - at_) / element_size;
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  const std::vector<std::uint8_t>& bytes_;
  std::size_t at_ = 0;
};

Result<std::vector<NamedTensor>> deserialize_tensors(const std::vector<std::uint8_t>& bytes) {
  const Status malformed = Status::error("internal error: the weights reader's process sent a malformed reply");
  Reader reader(bytes);
  std::uint64_t count = 0;
  if (!reader.take_count(count, 3 * sizeof(std::uint64_t))) return malformed;
  std::vector<NamedTensor> tensors(count);
  for (auto& tensor : tensors) {
    std::uint64_t length = 0, rank = 0, values = 0;
    if (!reader.take_count(length, 1)) return malformed;
    tensor.name.resize(length);
    if (!reader.take(tensor.name.data(), length) || !reader.take_count(rank, sizeof(std::int64_t))) return malformed;
    tensor.shape.resize(rank);
    if (!reader.take(tensor.shape.data(), rank * sizeof(std::int64_t)) || !reader.take_count(values, sizeof(float)))
      return malformed;
    tensor.data.resize(values);
    if (!reader.take(tensor.data.data(), values * sizeof(float))) return malformed;
  }
  if (!reader.done()) return malformed;
  return tensors;
}

std::atomic<WeightsReader> weights_reader{WeightsReader::child_process};

// Room for libhdf5's caches and for the file's bytes several times over (its in-memory image, the tensors, their
// copy for the pipe): a 256 MB weights file still reads, and a hostile one that makes libhdf5 allocate without end
// (fuzzing found 24 GB in 40 s) fails within about a second at 0.5 GB.
ChildLimits weights_reader_limits(std::size_t file_bytes) {
  ChildLimits limits;
  limits.max_added_address_space = (512ull << 20) + 4ull * file_bytes;
  return limits;
}

}  // namespace

void set_weights_reader(WeightsReader reader) { weights_reader.store(reader); }

Result<std::vector<NamedTensor>> read_weights_h5(const std::vector<std::uint8_t>& bytes) {
  if (weights_reader.load() == WeightsReader::in_process) return read_weights_h5_here(bytes);
  auto reply = run_in_child_process(
      [&bytes]() -> Result<std::vector<std::uint8_t>> {
        auto tensors = read_weights_h5_here(bytes);
        if (!tensors) return tensors.status();
        return serialize_tensors(tensors.value());
      },
      "libhdf5 reading the weights file", weights_reader_limits(bytes.size()));
  if (!reply) return reply.status();
  return deserialize_tensors(reply.value());
}

Result<KerasArchive> read_keras_archive(const std::vector<std::uint8_t>& bytes) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (!source) return Status::error("cannot read the archive: " + std::string(zip_error_strerror(&error)));
  std::unique_ptr<zip_t, ZipCloser> archive(zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  if (!archive) {
    zip_source_free(source);
    const std::string reason = zip_error_strerror(&error);
    zip_error_fini(&error);
    return Status::error("not a valid .keras (zip) file: " + reason);
  }
  KerasArchive result;
  auto config = read_member(archive.get(), "config.json", ArchiveLimits::max_config_bytes);
  if (!config) return config.status();
  result.config_json.assign(config.value().begin(), config.value().end());
  auto weights = read_member(archive.get(), "model.weights.h5", ArchiveLimits::max_member_bytes);
  if (!weights) return weights.status();
  auto tensors = read_weights_h5(weights.value());
  if (!tensors) return tensors.status().with_context("model.weights.h5: ");
  result.tensors = std::move(tensors).value();
  return result;
}

}  // namespace cortexlens
