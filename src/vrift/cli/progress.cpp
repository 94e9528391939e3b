#include "vrift/cli/progress.h"

#include <fmt/core.h>

#include <chrono>

#include "vrift/cli/common.h"
#include "vrift/util/human.h"

namespace vrift::cli {

ProgressLine::ProgressLine(const std::atomic<uint64_t>* files, const std::atomic<uint64_t>* bytes)
    : m_files(files), m_bytes(bytes) {
  if (stderr_is_tty()) m_thread = std::thread([this] { run(); });
}

ProgressLine::~ProgressLine() { stop(); }

void ProgressLine::stop() {
  if (!m_thread.joinable()) return;
  m_stop = true;
  m_thread.join();
  fmt::print(stderr, "\r\033[K");
  std::fflush(stderr);
}

void ProgressLine::run() {
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  bool utf8 = locale_is_utf8();
  int tick = 0;
  while (!m_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (m_stop.load()) break;
    double dt = std::chrono::duration<double>(clock::now() - t0).count();
    uint64_t f = m_files->load(std::memory_order_relaxed),
             b = m_bytes->load(std::memory_order_relaxed);
    static const char* kSpinUtf8[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
    static const char* kSpinAscii[] = {"-", "\\", "|", "/"};
    const char* spin = utf8 ? kSpinUtf8[tick % 10] : kSpinAscii[tick % 4];
    ++tick;
    fmt::print(stderr, "\r\033[K{} {} files  {}  {} files/s", spin, with_commas(f), human_bytes(b),
               with_commas(dt > 0 ? static_cast<uint64_t>(static_cast<double>(f) / dt) : 0));
    std::fflush(stderr);
  }
}

} // namespace vrift::cli
