// `cortexlens screen`'s parts: NumPy's percentiles, the per-output summary, the checkpoint format, the image
// collection (folders), the thread pool's error order. The command end to end (archives, threads, resume) is
// tests/screen_cli.cmake.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "image_fixtures.hpp"
#include "image_sources.hpp"
#include "screen_report.hpp"
#include "screen_state.hpp"
#include "thread_pool.hpp"

using namespace cortexlens;

TEST_CASE("screen percentiles are NumPy's linear ones, to the last bit", "[screen]") {
  // np.percentile(np.array(values, dtype=np.float32), p) with NumPy 1.24 (Debian 12), printed with repr().
  std::vector<float> values = {0.3f, -1.25f, 7.5f, 2.0f, 2.0f, 0.1f, 3.3f};
  std::sort(values.begin(), values.end());
  const std::vector<double> expected = {-1.25, -1.1689999985694886, -0.8449999928474425, 0.20000000298023224,
                                        2.0,   2.649999976158142,   6.240000057220456,   7.2480000114440895,
                                        7.5};
  REQUIRE(kScreenPercentiles.size() == expected.size());
  for (std::size_t q = 0; q < expected.size(); ++q) {
    INFO("percentile " << kScreenPercentiles[q]);
    CHECK(numpy_percentile_linear(values, kScreenPercentiles[q]) == expected[q]);
  }
  CHECK(numpy_percentile_linear({4.0f}, 50) == 4.0);
}

TEST_CASE("a screen summary ranks ties by image order and leaves out images without a response", "[screen]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> responses = {1.0f, nan, 3.0f, 1.0f, 3.0f, -2.0f};
  const OutputSummary s = summarize_output(responses, 2);
  CHECK(s.images == 5);
  REQUIRE(s.top.size() == 2);
  CHECK(s.top[0].image == 2);  // 3.0, the earlier of the two
  CHECK(s.top[1].image == 4);
  REQUIRE(s.bottom.size() == 2);
  CHECK(s.bottom[0].image == 5);  // -2.0
  CHECK(s.bottom[1].image == 0);  // 1.0, the earlier of the two
  CHECK(s.quantiles.front() == -2.0);
  CHECK(s.quantiles.back() == 3.0);

  const OutputSummary few = summarize_output({2.0f}, 10);
  CHECK(few.top.size() == 1);
  CHECK(few.bottom.size() == 1);
  const OutputSummary none = summarize_output({nan, nan}, 10);
  CHECK(none.images == 0);
  CHECK(none.top.empty());
  CHECK(none.quantiles.empty());
}

TEST_CASE("screen CSV quotes what needs quoting and lists failures", "[screen]") {
  ScreenReport report;
  report.image_names = {"a,b.png", "plain.png", "broken.png"};
  report.failures = {{2, "not an image"}};
  report.top_k = 1;
  report.models.push_back({"m", "float32", {{"o", summarize_output({0.5f, 0.25f, std::nanf("")}, 1)}}});
  const std::string csv = screen_csv(report);
  CHECK(csv.find("m,o,top,1,\"a,b.png\",0.5\n") != std::string::npos);
  CHECK(csv.find("m,o,bottom,1,plain.png,0.25\n") != std::string::npos);
  CHECK(csv.find("m,o,quantile,50,,0.375\n") != std::string::npos);
  CHECK(csv.find("m,o,count,images,,2\n") != std::string::npos);
  CHECK(csv.find("m,o,count,failures,,1\n") != std::string::npos);
  CHECK(csv.find("# failed: broken.png: not an image\n") != std::string::npos);
  const std::string json = screen_json(report);
  CHECK(json.find("\"image\": \"a,b.png\", \"response\": 0.5") != std::string::npos);
  CHECK(json.find("{\"image\": \"broken.png\", \"message\": \"not an image\"}") != std::string::npos);
}

TEST_CASE("a screen checkpoint reads back as written, and a damaged one is refused", "[screen]") {
  ScreenState state;
  state.fingerprint = 0x1234abcdull;
  state.images = 5;
  state.columns = 2;
  state.done = 3;
  state.failures = {{1, "bad bytes"}};
  state.responses = {1.5f, -2.0f, std::nanf(""), std::nanf(""), 0.25f, 1e-30f};
  const std::vector<std::uint8_t> bytes = encode_screen_state(state);
  auto read = decode_screen_state(bytes);
  REQUIRE(read);
  CHECK(read.value().fingerprint == state.fingerprint);
  CHECK(read.value().done == 3);
  REQUIRE(read.value().failures.size() == 1);
  CHECK(read.value().failures[0].image == 1);
  CHECK(read.value().failures[0].message == "bad bytes");
  REQUIRE(read.value().responses.size() == 6);
  CHECK(std::memcmp(read.value().responses.data(), state.responses.data(), 6 * sizeof(float)) == 0);

  auto torn = bytes;
  torn.resize(torn.size() - 5);
  CHECK_FALSE(decode_screen_state(torn));
  auto flipped = bytes;
  flipped[40] ^= 1;
  const auto refused = decode_screen_state(flipped);
  REQUIRE_FALSE(refused);
  CHECK(refused.message().find("checksum") != std::string::npos);
  CHECK_FALSE(decode_screen_state({'n', 'o', 'p', 'e'}));
}

TEST_CASE("parallel_for runs every item and reports the first failure by index", "[screen][threads]") {
  for (int threads : {1, 2, 3, 8}) {
    std::vector<std::atomic<int>> runs(100);
    auto status = parallel_for(100, threads, [&](int worker, std::size_t i) -> Status {
      REQUIRE(worker >= 0);
      REQUIRE(worker < threads);
      ++runs[i];
      return Status::ok();
    });
    CHECK(status);
    for (auto& count : runs) CHECK(count == 1);
    auto failed = parallel_for(100, threads, [&](int, std::size_t i) -> Status {
      return i == 17 || i == 60 ? Status::error("item " + std::to_string(i)) : Status::ok();
    });
    REQUIRE_FALSE(failed);
    CHECK(failed.message() == "item 17");
  }
  CHECK(default_thread_count() >= 1);
}

TEST_CASE("an image collection takes a folder's images recursively, sorted, without hidden files", "[screen]") {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("cortexlens-screen-test-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "b" / "c");
  fs::create_directories(root / ".hidden");
  const auto png = fixtures::encode_png(2, 2, 3, std::vector<std::uint8_t>(12, 100));
  for (const char* name : {"b/c/z.png", "a.PNG", "b/y.jpg", "notes.txt", ".hidden/h.png", "b/._x.png"})
    REQUIRE(fixtures::write_file((root / name).string(), png));
  auto collection = ImageCollection::open({root.string()});
  REQUIRE(collection);
  std::vector<std::string> names;
  for (const auto& entry : collection.value().entries()) names.push_back(entry.name);
  const std::string base = root.generic_string();
  CHECK(names == std::vector<std::string>{base + "/a.PNG", base + "/b/c/z.png", base + "/b/y.jpg"});
  auto bytes = collection.value().read(1, 1 << 20);
  REQUIRE(bytes);
  CHECK(bytes.value() == png);
  CHECK_FALSE(collection.value().read(1, 10));  // over the limit: refused before reading

  auto missing = ImageCollection::open({(root / "nothing-here").string()});
  REQUIRE_FALSE(missing);
  CHECK(missing.message().find("no such file or folder") != std::string::npos);
  fs::create_directories(root / "empty");
  CHECK_FALSE(ImageCollection::open({(root / "empty").string()}));
  fs::remove_all(root);
}
