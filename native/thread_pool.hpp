// Work spread over the machine's cores, for the commands that run many images or many models. Each call starts
// its threads and joins them before returning; what a thread keeps between items (a ModelRunner: plans are not
// thread-safe) lives in the caller's per-worker slots, indexed by the worker number the job receives.
#pragma once

#include <cstddef>
#include <functional>

#include "cortexlens/status.hpp"

namespace cortexlens {

// std::thread::hardware_concurrency(), or 1 when the machine does not say: the default of every --threads.
int default_thread_count();

// Runs job(worker, i) for every i in [0, count) on min(threads, count) threads (at least 1; the calling thread is
// worker 0), handing out i in increasing order as threads come free; worker is in [0, threads). After a job fails
// no new i is handed out; the result is the failure with the smallest i, so it does not depend on timing (every
// smaller i had already been handed out, and ran to its end).
Status parallel_for(std::size_t count, int threads, const std::function<Status(int worker, std::size_t i)>& job);

}  // namespace cortexlens
