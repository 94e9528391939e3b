#include "vrift/cli/common.h"

#include <langinfo.h>
#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <cstring>

namespace vrift::cli {

Result<Paths> GlobalOptions::paths() const {
  PathOverrides ov;
  if (!the_source_root.empty()) ov.the_source_root = the_source_root;
  return resolve_paths(ov);
}

int report(const Error& e, const std::string& hint) {
  fmt::print(stderr, "vrift: error: {}\n", e.message());
  if (!hint.empty()) fmt::print(stderr, "hint: {}\n", hint);
  return kExitFail;
}

int usage_error(const std::string& msg) {
  fmt::print(stderr, "vrift: error: {}\nRun with --help for more information.\n", msg);
  return kExitUsage;
}

bool stdout_is_tty() { return ::isatty(STDOUT_FILENO) == 1; }
bool stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }

bool locale_is_utf8() {
  static const bool utf8 = [] {
    std::setlocale(LC_CTYPE, "");
    const char* cs = nl_langinfo(CODESET);
    return cs && (std::strcmp(cs, "UTF-8") == 0 || std::strcmp(cs, "utf8") == 0);
  }();
  return utf8;
}

} // namespace vrift::cli
