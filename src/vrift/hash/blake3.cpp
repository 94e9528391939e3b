#include "vrift/hash/blake3.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <mutex>

#include "vrift/util/hex.h"
#include <blake3.h> // the official C implementation (not vrift/hash/blake3.h)

namespace vrift {

static_assert(sizeof(blake3_hasher) <= 1912, "Blake3::m_state too small for blake3_hasher");

std::string Hash::hex() const { return to_hex(bytes.data(), bytes.size()); }

bool Hash::from_hex(std::string_view hex, Hash& out) {
  for (char c : hex) {
    if (c >= 'A' && c <= 'F') return false; // canonical form is lowercase
  }
  return vrift::from_hex(hex, out.bytes.data(), out.bytes.size());
}

Blake3::Blake3() { blake3_hasher_init(reinterpret_cast<blake3_hasher*>(m_state)); }

void Blake3::update(const void* data, size_t n) {
  blake3_hasher_update(reinterpret_cast<blake3_hasher*>(m_state), data, n);
}

Hash Blake3::finish() const {
  Hash h;
  blake3_hasher_finalize(reinterpret_cast<const blake3_hasher*>(m_state), h.bytes.data(),
                         h.bytes.size());
  return h;
}

Hash blake3(const void* data, size_t n) {
  Blake3 b;
  b.update(data, n);
  return b.finish();
}

namespace {

// Hashes FD to its end through BUF: from its current offset (read), or from its start (pread).
Result<Hash> hash_reads(int fd, bool from_start, uint64_t* bytes_read, uint8_t* buf,
                        size_t buf_size) {
  Blake3 b;
  uint64_t total = 0;
  for (;;) {
    ssize_t n = from_start ? ::pread(fd, buf, buf_size, static_cast<off_t>(total))
                           : ::read(fd, buf, buf_size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_os("reading");
    }
    if (n == 0) break;
    b.update(buf, static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  if (bytes_read) *bytes_read = total;
  return b.finish();
}

} // namespace

Result<Hash> blake3_fd(int fd, uint64_t* bytes_read, uint8_t* buf, size_t buf_size) {
  return hash_reads(fd, /*from_start=*/false, bytes_read, buf, buf_size);
}

namespace {

// Files at least this large are hashed through mappings; smaller ones cost less to read.
constexpr uint64_t kMapMin = 256 << 10;
// Mapped a window at a time, so that a huge file costs bounded page tables.
constexpr uint64_t kMapWindow = 16 << 20;

// A mapped file truncated by someone else raises SIGBUS on the pages past its new end. The
// handler turns that into a jump back to the hashing thread's guard; any other SIGBUS gets the
// disposition that was there before.
thread_local sigjmp_buf* t_bus_jump = nullptr;
thread_local const char* t_map_lo = nullptr;
thread_local const char* t_map_hi = nullptr;
struct sigaction g_old_bus {};
std::once_flag g_bus_once;
bool g_bus_ok = false;

void on_sigbus(int sig, siginfo_t* si, void* ctx) {
  // A fault (si_code > 0, e.g. BUS_ADRERR) rather than a SIGBUS someone sent: for those si_addr
  // is not an address.
  const bool fault = si->si_code > 0;
  const char* a = static_cast<const char*>(si->si_addr);
  if (fault && t_bus_jump && a >= t_map_lo && a < t_map_hi) siglongjmp(*t_bus_jump, 1);
  if (g_old_bus.sa_flags & SA_SIGINFO) {
    if (g_old_bus.sa_sigaction) return g_old_bus.sa_sigaction(sig, si, ctx);
  } else if (g_old_bus.sa_handler != SIG_IGN && g_old_bus.sa_handler != SIG_DFL) {
    return g_old_bus.sa_handler(sig);
  }
  if (!fault && g_old_bus.sa_handler == SIG_IGN) return; // ignored before us: still ignored
  // Default (a fault is never ignored by the kernel either): end the process as it would have
  // ended. A fault repeats on return; a sent signal is raised again (SA_NODEFER: at once).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(SIGBUS, &dfl, nullptr);
  if (!fault) ::raise(sig);
}

void install_sigbus_guard() {
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  g_bus_ok = ::sigaction(SIGBUS, &sa, &g_old_bus) == 0;
}

// Hashes [off, off + len) of FD through a mapping into B; false if the file was truncated under
// it (SIGBUS) or the mapping failed (then *MAPPED is false and nothing was hashed).
bool hash_window(int fd, uint64_t off, size_t len, Blake3& b, bool* mapped) {
  void* p =
      ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, static_cast<off_t>(off));
  *mapped = p != MAP_FAILED;
  if (!*mapped) return false;
  bool ok = true;
  sigjmp_buf jump;
  if (sigsetjmp(jump, 1) == 0) {
    t_map_lo = static_cast<const char*>(p);
    t_map_hi = t_map_lo + len;
    t_bus_jump = &jump;
    b.update(p, len);
  } else {
    ok = false;
  }
  t_bus_jump = nullptr;
  ::munmap(p, len);
  return ok;
}

} // namespace

Result<Hash> blake3_file(int fd, uint64_t size, uint64_t* bytes_read, uint8_t* buf,
                         size_t buf_size) {
  if (size >= kMapMin) {
    std::call_once(g_bus_once, install_sigbus_guard);
    if (g_bus_ok) {
      Blake3 b;
      uint64_t off = 0;
      while (off < size) {
        size_t len = static_cast<size_t>(std::min(kMapWindow, size - off));
        bool mapped = false;
        if (!hash_window(fd, off, len, b, &mapped)) {
          if (!mapped) break; // not mappable (a special file system): read it instead
          // A page inside the file that could not be read is a disk error; one past its end
          // means it was truncated under us.
          struct stat st {};
          if (::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) >= off + len)
            return fail("reading: input/output error", EIO);
          return fail("file changed while being read", EAGAIN);
        }
        off += len;
      }
      if (off == size) {
        // Bytes past SIZE (the file grew) are not hashed; the caller's fstat sees the growth.
        if (bytes_read) *bytes_read = size;
        return b.finish();
      }
    }
  }
  return hash_reads(fd, /*from_start=*/true, bytes_read, buf, buf_size);
}

} // namespace vrift
