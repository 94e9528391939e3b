// A one-line terminal progress display (files, bytes, rate) redrawn on stderr from a
// background thread; does nothing when stderr is not a terminal.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace vrift::cli {

class ProgressLine {
public:
  /// Starts drawing FILES/BYTES every 100 ms if stderr is a terminal.
  ProgressLine(const std::atomic<uint64_t>* files, const std::atomic<uint64_t>* bytes);
  ~ProgressLine();
  /// Stops and erases the line.
  void stop();

private:
  void run();
  const std::atomic<uint64_t>* m_files;
  const std::atomic<uint64_t>* m_bytes;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

} // namespace vrift::cli
