#include "vrift/project/detect.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "vrift/util/fd.h"
#include "vrift/util/fs.h"

namespace vrift::project {

namespace {

// Whether NAME in the directory DFD is a regular file (a symlink to one counts).
bool is_file_at(int dfd, const char* name) {
  struct stat st {};
  return ::fstatat(dfd, name, &st, 0) == 0 && S_ISREG(st.st_mode);
}

// The canonical home directory, or "" when HOME is unset or does not resolve.
std::string canonical_home() {
  const char* h = std::getenv("HOME");
  if (!h || !*h) return {};
  auto c = fs::canonical(h);
  return c.ok() ? *c : std::string();
}

bool is_under(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

} // namespace

const char* kind_name(Kind k) {
  switch (k) {
  case Kind::Npm:
    return "npm";
  case Kind::Cargo:
    return "cargo";
  case Kind::Pip:
    return "pip";
  case Kind::Go:
    return "go";
  }
  return "?";
}

std::optional<Kind> kind_from_name(std::string_view name) {
  for (Kind k : {Kind::Npm, Kind::Cargo, Kind::Pip, Kind::Go}) {
    if (name == kind_name(k)) return k;
  }
  return std::nullopt;
}

const std::vector<Marker>& all_markers() {
  static const std::vector<Marker> kMarkers = {
      {Kind::Npm, "package.json"},     {Kind::Cargo, "Cargo.toml"}, {Kind::Pip, "pyproject.toml"},
      {Kind::Pip, "requirements.txt"}, {Kind::Pip, "setup.py"},     {Kind::Go, "go.mod"},
  };
  return kMarkers;
}

bool Detection::has(Kind k) const {
  for (Kind x : kinds) {
    if (x == k) return true;
  }
  return false;
}

std::string Detection::markers_of(Kind k) const {
  std::string out;
  for (const Marker& m : markers) {
    if (m.kind != k) continue;
    if (!out.empty()) out += ", ";
    out += m.file;
  }
  return out;
}

Result<Detection> detect(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return fail_os("project directory '" + dir + "'");
  if (!S_ISDIR(st.st_mode))
    return fail("project directory '" + dir + "': not a directory", ENOTDIR);
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.valid() || ::faccessat(dfd.get(), ".", R_OK | X_OK, 0) != 0)
    return fail_os("project directory '" + dir + "'");
  Detection d;
  for (const Marker& m : all_markers()) {
    if (!is_file_at(dfd.get(), m.file)) continue;
    d.markers.push_back(m);
    if (!d.has(m.kind)) d.kinds.push_back(m.kind);
  }
  return d;
}

Result<std::optional<Root>> find_root(const std::string& start_dir) {
  VRIFT_ASSIGN(std::string start, fs::canonical(start_dir).context("finding the project root"));
  struct stat st {};
  if (::stat(start.c_str(), &st) != 0) return fail_os("finding the project root: '" + start + "'");
  if (!S_ISDIR(st.st_mode))
    return fail("finding the project root: '" + start + "' is not a directory", ENOTDIR);
  std::string home = canonical_home();
  const std::string ceiling = !home.empty() && home != "/" && is_under(start, home) ? home : "/";

  std::optional<Root> nearest;
  for (std::string d = start; d != ceiling && d != "/"; d = fs::dirname(d)) {
    // O_PATH: a directory we may search but not list still counts.
    UniqueFd dfd(::open(d.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dfd.valid()) continue;
    if (is_file_at(dfd.get(), kConfigFile)) return std::optional<Root>(Root{d, kConfigFile});
    if (nearest) continue; // keep looking only for a vrift.toml further up
    for (const Marker& m : all_markers()) {
      if (is_file_at(dfd.get(), m.file)) {
        nearest = Root{d, m.file};
        break;
      }
    }
    if (!nearest && is_file_at(dfd.get(), kManifestFile)) nearest = Root{d, kManifestFile};
  }
  return nearest;
}

} // namespace vrift::project
