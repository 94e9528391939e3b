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

__attribute__((noinline)) void* dlopen_projected(const char* file, int mode) {
  const int saved = errno;
  Scratch s;
  const Lookup l = lookup(AT_FDCWD, file, true, &s);
  const bool reg = l.res == Res::kHit && (l.st.mode & vdir::kModeTypeMask) == vdir::kModeReg;
  if (reg && blob_path(l.st.blob_hash, l.st.size, &s.b)) {
    errno = saved;
    return real_dlopen.get()(s.b.s, mode);
  }
  errno = saved;
  return real_dlopen.get()(file, mode);
}

} // namespace
} // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT void* dlopen(const char* file, int mode) {
  file = opaque(file);
  if (file && active() && has_slash(file) && !surely_outside(AT_FDCWD, file))
    return dlopen_projected(file, mode);
  return real_dlopen.get()(file, mode);
}
