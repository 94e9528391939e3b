#include "vrift/run/plan.h"

#include <set>

namespace vrift::run {

namespace {

// A field of VRIFT_PROJECTIONS: its separators cannot appear inside it.
Status check_field(std::string_view what, std::string_view value) {
  if (value.find_first_of("\t\n") != std::string_view::npos)
    return fail(std::string(what) + " '" + std::string(value) +
                    "' contains a tab or a newline, which VRIFT_PROJECTIONS cannot carry",
                EINVAL);
  return {};
}

Status check_absolute(std::string_view what, std::string_view value) {
  if (value.empty() || value[0] != '/')
    return fail(std::string(what) + " '" + std::string(value) + "' is not absolute", EINVAL);
  return {};
}

} // namespace

Result<std::vector<ProjectionRequest>> pair_at(const std::vector<std::string>& manifests,
                                               const std::vector<std::string>& ats) {
  if (!ats.empty() && ats.size() != manifests.size()) {
    return fail("--at was given " + std::to_string(ats.size()) + " time" +
                    (ats.size() == 1 ? "" : "s") + " for " + std::to_string(manifests.size()) +
                    " --manifest: give it once per --manifest (paired in order), or not at all",
                EINVAL);
  }
  std::vector<ProjectionRequest> out;
  out.reserve(manifests.size());
  for (size_t i = 0; i < manifests.size(); ++i)
    out.push_back({manifests[i], ats.empty() ? std::string() : ats[i]});
  return out;
}

Result<std::string> default_root(std::string_view origin, std::string_view prefix) {
  if (origin.empty())
    return fail("the manifest records no origin (the directory it was ingested from)", ENOENT);
  if (origin[0] != '/')
    return fail("the manifest's origin '" + std::string(origin) + "' is not absolute", EINVAL);
  std::string root(origin);
  while (root.size() > 1 && root.back() == '/')
    root.pop_back();
  if (!prefix.empty()) {
    std::string tail = "/" + std::string(prefix);
    if (root.size() >= tail.size() &&
        root.compare(root.size() - tail.size(), tail.size(), tail) == 0)
      root.resize(root.size() - tail.size());
    if (root.empty()) root = "/";
  }
  return root;
}

Status check_projections(const std::vector<Projection>& ps) {
  if (ps.size() > kMaxProjections) {
    return fail("at most " + std::to_string(kMaxProjections) +
                    " manifests can be projected at once (" + std::to_string(ps.size()) + " given)",
                E2BIG);
  }
  std::set<std::string_view> roots;
  for (const auto& p : ps) {
    VRIFT_TRY(check_absolute("projection root", p.root));
    VRIFT_TRY(check_field("projection root", p.root));
    VRIFT_TRY(check_absolute("manifest path", p.manifest_path));
    VRIFT_TRY(check_field("manifest path", p.manifest_path));
    if (!roots.insert(p.root).second)
      return fail("two manifests are projected at '" + p.root + "'", EINVAL);
  }
  return {};
}

Result<std::string> format_projections(const std::vector<Projection>& ps) {
  VRIFT_TRY(check_projections(ps));
  std::string out;
  for (const auto& p : ps) {
    VRIFT_TRY(check_absolute("VDir path", p.vdir_path));
    VRIFT_TRY(check_field("VDir path", p.vdir_path));
    if (p.session == 0) return fail("the session of '" + p.root + "' is not open", EINVAL);
    if (!out.empty()) out += '\n';
    out += p.root;
    out += '\t';
    out += p.vdir_path;
    out += '\t';
    out += p.manifest_path;
    out += '\t';
    out += std::to_string(p.session);
  }
  return out;
}

std::string prepend_preload(std::string_view existing, std::string_view shim) {
  size_t i = 0;
  while (i < existing.size()) {
    size_t end = existing.find_first_of(": ", i);
    if (end == std::string_view::npos) end = existing.size();
    if (existing.substr(i, end - i) == shim) return std::string(existing);
    i = end + 1;
  }
  if (existing.find_first_not_of(": ") == std::string_view::npos) return std::string(shim);
  return std::string(shim) + ":" + std::string(existing);
}

std::vector<std::string> child_environment(const std::vector<std::string>& inherited,
                                           const EnvInputs& in) {
  auto name_of = [](std::string_view kv) { return kv.substr(0, kv.find('=')); };
  std::string_view preload; // the loader reads the first LD_PRELOAD of the environment
  for (const auto& kv : inherited) {
    if (name_of(kv) == "LD_PRELOAD" && kv.size() > sizeof "LD_PRELOAD" - 1) {
      preload = std::string_view(kv).substr(sizeof "LD_PRELOAD");
      break;
    }
  }
  std::vector<std::pair<std::string, std::string>> set = {
      {"LD_PRELOAD", prepend_preload(preload, in.shim)},
      {"VRIFT_PROJECTIONS", in.projections},
      {"VRIFT_STORE", in.store},
      {"UV_USE_IO_URING", "0"},
  };
  if (in.log) set.emplace_back("VRIFT_LOG", "1");
  std::vector<std::string> out;
  out.reserve(inherited.size() + set.size());
  for (const auto& kv : inherited) {
    bool replaced = false;
    for (const auto& [name, value] : set)
      replaced = replaced || name_of(kv) == name;
    if (!replaced) out.push_back(kv);
  }
  for (const auto& [name, value] : set)
    out.push_back(name + "=" + value);
  return out;
}

} // namespace vrift::run
