// The real libc functions behind the shim's hooks, found with dlsym(RTLD_NEXT) once, in the
// library's constructor (LESSONS 2); a hook called earlier resolves its own function on the spot.
#pragma once

#include <dlfcn.h>

namespace vrift::shim {

/// Resolves NAME in the next object after the shim (cold; errno preserved).
void* resolve_next(const char* name);

/// A lazily resolved pointer to the real function NAME of type F.
template <typename F> struct RealFn {
  const char* name;
  F* fn; // accessed atomically
  F* get() {
    F* f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);
    if (__builtin_expect(f != nullptr, 1)) return f;
    f = reinterpret_cast<F*>(resolve_next(name));
    __atomic_store_n(&fn, f, __ATOMIC_RELEASE);
    return f;
  }
};

#define VRIFT_REAL(fn_name, type)                                                                  \
  static ::vrift::shim::RealFn<type> real_##fn_name { #fn_name, nullptr }

} // namespace vrift::shim
