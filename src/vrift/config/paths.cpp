#include "vrift/config/paths.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <toml++/toml.h>

#include "vrift/util/fs.h"

namespace vrift {

const char* origin_name(Origin o) {
  switch (o) {
  case Origin::Flag:
    return "--the-source-root";
  case Origin::Env:
    return "VR_THE_SOURCE";
  case Origin::Config:
    return "config file";
  case Origin::Default:
    return "default";
  }
  return "?";
}

static std::string home_dir() {
  const char* h = std::getenv("HOME");
  return h && *h ? std::string(h) : std::string();
}

std::string expand_path(const std::string& p) {
  std::string out = p;
  if (out == "~" || out.rfind("~/", 0) == 0) out = home_dir() + out.substr(1);
  if (!out.empty() && out[0] != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd)) out = fs::join(cwd, out);
  }
  while (out.size() > 1 && out.back() == '/')
    out.pop_back();
  return out;
}

Result<Paths> resolve_paths(const PathOverrides& ov) {
  Paths p;
  const char* vh = std::getenv("VRIFT_HOME");
  if (vh && *vh) {
    p.home = expand_path(vh);
  } else {
    std::string h = home_dir();
    if (h.empty()) return fail("HOME is not set (set HOME or VRIFT_HOME)");
    p.home = expand_path(h + "/.vrift");
  }
  p.config_file = p.home + "/config.toml";

  std::optional<std::string> cfg_root;
  if (::access(p.config_file.c_str(), F_OK) == 0) {
    // toml++ reports parse errors by exception in this build; none escapes this function.
    try {
      toml::table tbl = toml::parse_file(p.config_file);
      if (auto node = tbl["the_source_root"]) {
        auto s = node.value<std::string>();
        if (!s)
          return fail("config file '" + p.config_file + "': the_source_root must be a string");
        cfg_root = *s;
      }
    } catch (const toml::parse_error& err) {
      return fail("config file '" + p.config_file + "' line " +
                  std::to_string(err.source().begin.line) + ": " + std::string(err.description()));
    }
  }

  std::string uid = std::to_string(::getuid());
  const char* rt = std::getenv("VRIFT_RUNTIME_DIR");
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (rt && *rt) {
    p.runtime_dir = expand_path(rt);
  } else if (xdg && *xdg && ::access(xdg, W_OK) == 0) {
    p.runtime_dir = expand_path(xdg) + "/vrift";
  } else {
    p.runtime_dir = "/tmp/vrift-" + uid;
  }
  const char* vd = std::getenv("VRIFT_VDIR_DIR");
  if (vd && *vd) {
    p.vdir_dir = expand_path(vd);
  } else if (::access("/dev/shm", W_OK) == 0) {
    p.vdir_dir = "/dev/shm/vrift-" + uid;
  } else {
    p.vdir_dir = p.runtime_dir + "/vdir";
  }

  const char* env = std::getenv("VR_THE_SOURCE");
  if (ov.the_source_root && !ov.the_source_root->empty()) {
    p.store_root = expand_path(*ov.the_source_root);
    p.store_origin = Origin::Flag;
  } else if (env && *env) {
    p.store_root = expand_path(env);
    p.store_origin = Origin::Env;
  } else if (cfg_root && !cfg_root->empty()) {
    p.store_root = expand_path(*cfg_root);
    p.store_origin = Origin::Config;
  } else {
    p.store_root = p.home + "/the_source";
    p.store_origin = Origin::Default;
  }
  return p;
}

} // namespace vrift
