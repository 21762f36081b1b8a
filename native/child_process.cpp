#include "child_process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <new>

namespace cortexlens {

namespace {

// The reply's first byte says which of the two it carries.
constexpr std::uint8_t kReplyValue = 'V';
constexpr std::uint8_t kReplyError = 'E';

bool write_all(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// The child's address space: what it inherited (/proc/self/statm, in pages) plus `added` bytes.
void limit_address_space(std::uint64_t added) {
  if (added == 0 || kAddressSanitizer) return;
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0;
  if (!(statm >> pages)) return;
  const std::uint64_t limit = pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) + added;
  const rlimit bound{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
  ::setrlimit(RLIMIT_AS, &bound);
}

[[noreturn]] void child_main(int fd, const std::function<Result<std::vector<std::uint8_t>>()>& work,
                             const std::string& what, std::uint64_t added_address_space) {
  limit_address_space(added_address_space);
  // A crash must end the child. Handlers the parent installed (a test framework's, a sanitizer's) would report it
  // as the parent's and might carry on running the parent's program here.
  for (const int crash : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP}) ::signal(crash, SIG_DFL);
  std::vector<std::uint8_t> reply;
  try {
    auto result = work();
    if (result) {
      reply.reserve(result.value().size() + 1);
      reply.push_back(kReplyValue);
      reply.insert(reply.end(), result.value().begin(), result.value().end());
    } else {
      reply.push_back(kReplyError);
      reply.insert(reply.end(), result.message().begin(), result.message().end());
    }
  } catch (const std::bad_alloc&) {
    reply.assign({kReplyError});
    const std::string message = what + " ran out of memory";
    reply.insert(reply.end(), message.begin(), message.end());
  } catch (...) {
    ::_exit(3);
  }
  // _exit, not exit: the parent's atexit handlers and buffered stdio must not run twice.
  ::_exit(write_all(fd, reply.data(), reply.size()) ? 0 : 2);
}

std::string describe_end(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int signal_number = WTERMSIG(wait_status);
    const char* name = ::strsignal(signal_number);
    return "crashed (signal " + std::to_string(signal_number) + ", " + (name ? name : "unknown") + ")";
  }
  if (WIFEXITED(wait_status))
    return "crashed (its process exited with code " + std::to_string(WEXITSTATUS(wait_status)) + ")";
  return "ended abnormally";
}

pid_t wait_for(pid_t pid, int* wait_status) {
  pid_t ended;
  do ended = ::waitpid(pid, wait_status, 0);
  while (ended < 0 && errno == EINTR);
  return ended;
}

}  // namespace

Result<std::vector<std::uint8_t>> run_in_child_process(const std::function<Result<std::vector<std::uint8_t>>()>& work,
                                                       const std::string& what, const ChildLimits& limits) {
  int fds[2];
  if (::pipe(fds) != 0)
    return Status::error("cannot start a process for " + what + ": pipe failed (" + std::strerror(errno) + ")");
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return Status::error("cannot start a process for " + what + ": fork failed (" + std::strerror(error) + ")");
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], work, what, limits.max_added_address_space);
  }
  ::close(fds[1]);

  std::vector<std::uint8_t> reply;
  const auto deadline = std::chrono::steady_clock::now() + limits.timeout;
  bool timed_out = false, too_long = false, pipe_failed = false;
  int pipe_error = 0;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd poll_fd{fds[0], POLLIN, 0};
    const int ready = ::poll(&poll_fd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {  // the pipe is unusable: the child is stopped, as after the timeout
      pipe_failed = true;
      pipe_error = errno;
      break;
    }
    if (ready == 0) continue;  // the deadline check above ends the wait
    const ssize_t got = ::read(fds[0], chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // end of file: the child has written everything or has died
    if (reply.size() + static_cast<std::uint64_t>(got) > limits.max_output_bytes) {
      too_long = true;
      break;
    }
    reply.insert(reply.end(), chunk, chunk + got);
  }
  ::close(fds[0]);
  if (timed_out || too_long || pipe_failed) ::kill(pid, SIGKILL);
  int wait_status = 0;
  if (wait_for(pid, &wait_status) != pid)
    return Status::error(what + ": lost its process (" + std::string(std::strerror(errno)) + ")");
  if (timed_out) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(limits.timeout.count()) / 1000.0);
    return Status::error(what + " did not finish within " + seconds + " s and was stopped");
  }
  if (pipe_failed) return Status::error(what + ": its pipe failed (" + std::string(std::strerror(pipe_error)) + ")");
  if (too_long)
    return Status::error(what + " sent more than " + std::to_string(limits.max_output_bytes) +
                         " bytes and was stopped");
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0)
    return Status::error(what + " " + describe_end(wait_status));
  if (reply.empty() || (reply[0] != kReplyValue && reply[0] != kReplyError))
    return Status::error(what + " ended without a reply");
  if (reply[0] == kReplyError) return Status::error(std::string(reply.begin() + 1, reply.end()));
  reply.erase(reply.begin());
  return reply;
}

}  // namespace cortexlens
