#include "thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace cortexlens {

int default_thread_count() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(std::min(cores, 1024u));
}

Status parallel_for(std::size_t count, int threads, const std::function<Status(int worker, std::size_t i)>& job) {
  if (count == 0) return Status::ok();
  const int workers = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(std::max(1, threads)), count));
  std::vector<Status> results(count, Status::ok());
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&](int worker) {
    while (!failed.load(std::memory_order_relaxed)) {
      const std::size_t i = next.fetch_add(1);
      if (i >= count) break;
      results[i] = job(worker, i);
      if (!results[i].is_ok()) failed = true;
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(workers - 1));
  for (int worker = 1; worker < workers; ++worker) pool.emplace_back(work, worker);
  work(0);
  for (auto& thread : pool) thread.join();
  for (const auto& status : results)
    if (!status.is_ok()) return status;
  return Status::ok();
}

}  // namespace cortexlens
