// Fuzz target for the project config parser (vrift.toml, src/vrift/project/config.cpp) and the
// path patterns it validates (src/vrift/ingest/pattern.cpp). Whatever the input, parse_config
// returns a config or a one-line error naming the file (no exception escapes, no crash); a
// config it accepts renders to text that parses back to the same config; every pattern it
// accepted compiles and matches without crashing. Each input line is also tried as a pattern.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "vrift/ingest/pattern.h"
#include "vrift/project/config.h"

namespace {

using namespace vrift;
using namespace vrift::project;

[[noreturn]] void fail_check(const char* what, const std::string& detail) {
  std::fprintf(stderr, "project_config_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

void exercise(const std::vector<std::string>& patterns) {
  auto p = PathPatterns::compile(patterns);
  if (!p.ok()) fail_check("accepted patterns do not compile", p.error().message());
  for (const char* rel : {"a", "a/b", "node_modules/x/y.js", "src/__pycache__", "x.pyc"}) {
    std::string r(rel);
    auto slash = r.rfind('/');
    std::string name = slash == std::string::npos ? r : r.substr(slash + 1);
    (void)p->match(r, name.c_str(), true);
    (void)p->match(r, name.c_str(), false);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string file = "/fuzz/vrift.toml";
  auto c = parse_config(text, file, "/nonexistent-vrift-fuzz-root", {Kind::Npm, Kind::Pip});
  if (!c.ok()) {
    const std::string& m = c.error().message();
    if (m.rfind("project config '" + file + "'", 0) != 0) fail_check("error without the file", m);
  } else {
    exercise(c->ignore);
    exercise(c->tier1);
    Detection d;
    d.kinds = c->kinds;
    auto back = parse_config(render_config(*c, d), file, "/nonexistent-vrift-fuzz-root", {});
    if (!back.ok()) fail_check("rendered config does not parse", back.error().message());
    if (back->kinds != c->kinds || back->ignore != c->ignore || back->tier1 != c->tier1 ||
        back->mode != c->mode || back->security_filter != c->security_filter ||
        back->manifest != c->manifest)
      fail_check("rendered config parses to another config", std::string(text));
  }
  // Every line as a pattern: compile errors are fine, crashes are not.
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line(text.substr(pos, nl == std::string_view::npos ? nl : nl - pos));
    if (auto p = PathPatterns::compile({line}); p.ok()) exercise({line});
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return 0;
}
