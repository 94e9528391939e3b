// dlopen of a projected shared object (a Node addon's .node, a Python extension module): the
// dynamic loader opens the file with its own internal open, past the shim, and would find only
// the skeleton. A path (one with a '/') that is a projected regular file is handed to the real
// dlopen as its blob's path instead. Everything else goes to the real dlopen by a tail call, so
// that glibc still sees the program as the caller (a bare name is searched with the calling
// object's RUNPATH). Limit: the object is loaded from the store, so its own $ORIGIN-relative
// dependencies (a wheel's bundled .libs directory) are not found there (docs/shim.md).
#include <dlfcn.h>
#include <fcntl.h>

#include "vrift/shim/core/lookup.h"
#include "vrift/shim/core/path.h"
#include "vrift/shim/core/state.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/shim/entry/real.h"

#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))

namespace vrift::shim {
namespace {

using DlopenFn = void*(const char*, int);
VRIFT_REAL(dlopen, DlopenFn);

bool has_slash(const char* s) {
  for (; *s; ++s)
    if (*s == '/') return true;
  return false;
}

// The blob of a projected regular file at FILE, in this thread's buffer (it must outlive the
// shim's frame: the real dlopen is reached by a tail call), or nullptr.
__thread char tls_blob[kPathMax] __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) const char* projected_blob(const char* file) {
  const int saved = errno;
  Scratch s;
  const Lookup l = lookup(AT_FDCWD, file, true, &s);
  const bool reg = l.res == Res::kHit && (l.st.mode & vdir::kModeTypeMask) == vdir::kModeReg;
  const char* out = nullptr;
  if (reg && blob_path(l.st.blob_hash, l.st.size, &s.b)) {
    __builtin_memcpy(tls_blob, s.b.s, s.b.len + 1);
    out = tls_blob;
  }
  errno = saved;
  return out;
}

} // namespace
} // namespace vrift::shim

using namespace vrift::shim;

// Both calls of the real dlopen are tail calls (no frame of the shim's is left), so glibc sees
// the program as the caller: "$ORIGIN" in the name, and the caller's RPATH/RUNPATH, are its.
VRIFT_EXPORT void* dlopen(const char* file, int mode) {
  file = opaque(file);
  if (file && active() && has_slash(file) && !surely_outside(AT_FDCWD, file)) {
    if (const char* blob = projected_blob(file)) return real_dlopen.get()(blob, mode);
  }
  return real_dlopen.get()(file, mode);
}
