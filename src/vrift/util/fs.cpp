#include "vrift/util/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <random>

#include "vrift/util/fd.h"
#include "vrift/util/scratch.h"

namespace vrift::fs {

Status mkdir_p(const std::string& dir, mode_t mode) {
  if (dir.empty()) return {};
  if (::mkdir(dir.c_str(), mode) == 0 || errno == EEXIST) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    if (errno == EEXIST || ::stat(dir.c_str(), &st) == 0)
      return fail("creating directory '" + dir + "': exists and is not a directory", ENOTDIR);
  }
  if (errno != ENOENT) return fail_os("creating directory '" + dir + "'");
  auto parent = dirname(dir);
  if (parent == dir) return fail_os("creating directory '" + dir + "'");
  VRIFT_TRY(mkdir_p(parent, mode));
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return fail_os("creating directory '" + dir + "'");
  return {};
}

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail_os("opening '" + path + "'");
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_os("reading '" + path + "'");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return fail_os("opening directory '" + dir + "'");
  if (::fsync(fd.get()) != 0) return fail_os("syncing directory '" + dir + "'");
  return {};
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode, bool durable,
                         struct stat* written) {
  std::string dir = dirname(path);
  std::random_device rd;
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return fail_os("creating '" + tmp + "'");
  auto cleanup = [&](Error e) {
    ::unlink(tmp.c_str());
    return fail(std::move(e));
  };
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return cleanup(os_error("writing '" + path + "'"));
    }
    off += static_cast<size_t>(n);
  }
  if (durable && ::fsync(fd.get()) != 0) return cleanup(os_error("syncing '" + path + "'"));
  if (::fchmod(fd.get(), mode) != 0) return cleanup(os_error("setting mode of '" + path + "'"));
  if (written && ::fstat(fd.get(), written) != 0)
    return cleanup(os_error("checking '" + tmp + "'"));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return cleanup(os_error("renaming into '" + path + "'"));
  return durable ? fsync_dir(dir) : Status{};
}

Result<uint64_t> copy_fd(int src, int dst, uint64_t max) {
  uint64_t total = 0;
  loff_t in_off = 0;
  while (total < max) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(max - total, 1 << 30));
    ssize_t n = ::copy_file_range(src, &in_off, dst, nullptr, want, 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
      break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_os("copying");
    }
    if (n == 0) return total;
    total += static_cast<uint64_t>(n);
  }
  // Fallback: pread/write.
  auto* buf = scratch_buffer<struct CopyFdTag>();
  while (total < max) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(max - total, kScratchSize));
    ssize_t n = ::pread(src, buf, want, in_off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_os("reading");
    }
    if (n == 0) return total;
    in_off += n;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(dst, buf + off, static_cast<size_t>(n - off));
      if (w < 0) {
        if (errno == EINTR) continue;
        return fail_os("writing");
      }
      off += w;
    }
    total += static_cast<uint64_t>(n);
  }
  return total;
}

std::string dirname(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string basename(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

Result<std::string> canonical(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return fail_os("resolving '" + path + "'");
  return std::string(buf);
}

std::string join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string out(a);
  if (out.back() != '/') out += '/';
  while (!b.empty() && b.front() == '/')
    b.remove_prefix(1);
  out += b;
  return out;
}

} // namespace vrift::fs
