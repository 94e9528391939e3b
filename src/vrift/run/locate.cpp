#include "vrift/run/locate.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "vrift/util/fs.h"

namespace vrift::run {

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("vrift");
}

std::vector<std::string> shim_candidates(const char* env_override, const std::string& self_exe) {
  if (env_override && *env_override) return {env_override};
  std::string dir = fs::dirname(self_exe);
  return {dir + "/" + kShimName, dir + "/../lib/vrift/" + kShimName};
}

Result<std::string> find_shim(const char* env_override, const std::string& self_exe) {
  bool from_env = env_override && *env_override;
  if (from_env && env_override[0] != '/')
    return fail(std::string("VRIFT_SHIM='") + env_override + "' is not an absolute path", EINVAL);
  std::string tried;
  for (const std::string& c : shim_candidates(env_override, self_exe)) {
    struct stat st {};
    if (::stat(c.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(c.c_str(), R_OK) == 0) {
      VRIFT_ASSIGN(std::string path, fs::canonical(c));
      if (path.find_first_of(": \t\n") != std::string::npos)
        return fail("the shim's path '" + path +
                        "' contains ':' or a space, which LD_PRELOAD cannot carry",
                    EINVAL);
      return path;
    }
    tried += (tried.empty() ? "" : ", ") + c;
  }
  return fail(std::string("the vrift shim (") + kShimName + ") was not found (" +
                  (from_env ? "VRIFT_SHIM: " : "looked at ") + tried + ")",
              ENOENT);
}

} // namespace vrift::run
