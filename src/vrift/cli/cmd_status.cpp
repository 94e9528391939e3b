// `vrift status [--json]`: what the store holds and what each registered project adds to it.
//
// How the figures are computed: one listing of the store's blob names (hash_size.bin gives
// the size: no stat), one pass over each registered manifest in registration order. A blob
// (hash, size) belongs to the first project that references it: for that project it is Unique
// (and its bytes count towards the project's Size), for every later project that references it
// it is Shared. Each blob counts once per project however many of its files have that content.
// Orphans are blobs in the store that no registered manifest references (what `gc` would
// delete); Missing are blobs a manifest references that the store does not have.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <map>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "vrift/cli/common.h"
#include "vrift/cli/table.h"
#include "vrift/maint/projects.h"
#include "vrift/util/fd.h"
#include "vrift/util/fs.h"
#include "vrift/util/human.h"
#include "vrift/util/log.h"

namespace vrift::cli {

namespace {

struct ProjectStats {
  ProjectRecord rec;
  std::string name;  ///< display name, unique within the report
  std::string error; ///< why its manifest could not be loaded ("" when loaded)
  bool loaded = false;
  bool root_gone = false;
  bool manifest_gone = false;
  uint64_t files = 0;      ///< file entries in the manifest
  uint64_t file_bytes = 0; ///< bytes of those files (duplicates included)
  uint64_t unique_blobs = 0;
  uint64_t shared_blobs = 0;
  uint64_t unique_bytes = 0;
  bool stale() const { return root_gone || manifest_gone; }
};

struct StatusReport {
  std::string store;
  bool store_exists = false;
  uint64_t total_blobs = 0;
  uint64_t total_bytes = 0;
  std::vector<ProjectStats> projects;
  uint64_t orphaned_blobs = 0;
  uint64_t orphaned_bytes = 0;
  uint64_t missing_blobs = 0; ///< referenced by a loaded manifest, absent from the store
  bool all_loaded = true;     ///< false: orphans are an upper bound
};

/// Every referenced blob -> the last project (index) that counted it: the first project to
/// insert a blob owns it, and a project with many copies of one content counts it once.
using OwnerMap = std::unordered_map<BlobKey, uint32_t, BlobKeyHasher>;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (j > i) out.push_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string last_components(const std::vector<std::string>& parts, size_t k) {
  if (parts.empty()) return "/";
  std::string out;
  for (size_t i = parts.size() - std::min(k, parts.size()); i < parts.size(); ++i)
    out += (out.empty() ? "" : "/") + parts[i];
  return out;
}

/// Display names: the root's basename, lengthened with parent directories where two roots
/// share it ("projA/node_modules", "projB/node_modules"); projects with the same root are told
/// apart by their manifest's file name, and as a last resort by their registration number.
void assign_names(std::vector<ProjectStats>& ps) {
  std::map<std::string, size_t> depth; // distinct root -> components shown
  for (const auto& p : ps)
    depth.emplace(p.rec.root, 1);
  for (bool changed = true; changed;) {
    changed = false;
    std::map<std::string, std::vector<std::string>> groups; // shown name -> roots
    for (const auto& [root, k] : depth)
      groups[last_components(split_path(root), k)].push_back(root);
    for (const auto& [name, roots] : groups) {
      if (roots.size() < 2) continue;
      for (const auto& root : roots) {
        if (depth[root] < split_path(root).size()) {
          ++depth[root];
          changed = true;
        }
      }
    }
  }
  std::map<std::string, int> uses;
  for (auto& p : ps) {
    p.name = last_components(split_path(p.rec.root), depth[p.rec.root]);
    ++uses[p.name];
  }
  std::map<std::string, int> uses2;
  for (auto& p : ps) {
    if (uses[p.name] > 1) p.name += " (" + fs::basename(p.rec.manifest_path) + ")";
    ++uses2[p.name];
  }
  for (auto& p : ps) {
    if (uses2[p.name] > 1) p.name += " #" + std::to_string(p.rec.seq);
  }
}

/// One pass over the manifest of project INDEX: counts its files, and its unique and shared
/// blobs against the projects registered before it.
void count_project(const Manifest& m, uint32_t index, ProjectStats& p, OwnerMap& owners) {
  for (size_t i = 0; i < m.size(); ++i) {
    EntryView e = m.at(i);
    if (e.type != EntryType::File) continue;
    ++p.files;
    p.file_bytes += e.size;
    auto [it, inserted] = owners.try_emplace(BlobKey{e.hash_value(), e.size}, index);
    if (inserted) {
      ++p.unique_blobs;
      p.unique_bytes += e.size;
    } else if (it->second != index) {
      it->second = index;
      ++p.shared_blobs;
    }
  }
}

/// Registered projects of the store (none when there is no registry yet: status creates none).
Result<std::vector<LiveProject>> registered_projects(const Paths& paths) {
  std::string db = paths.registry_db();
  if (::access(db.c_str(), F_OK) != 0 && errno == ENOENT) return std::vector<LiveProject>{};
  VRIFT_ASSIGN(Registry reg, Registry::open(db));
  return load_projects(reg, paths.store_root);
}

/// The report for the store of PATHS whose registered projects are LIVE.
Result<StatusReport> compute_status(const Paths& paths, std::vector<LiveProject> live) {
  auto t0 = std::chrono::steady_clock::now();
  StatusReport r;
  r.store = paths.store_root;
  std::vector<BlobKey> blobs;
  struct stat st {};
  if (::stat(r.store.c_str(), &st) == 0 || errno != ENOENT) {
    VRIFT_ASSIGN(auto store, Store::open(r.store, /*create=*/false));
    r.store_exists = true;
    VRIFT_ASSIGN(blobs, list_blobs(*store));
  }
  log::debug("status: listed {} blobs in {:.0f} ms", blobs.size(), ms_since(t0));

  OwnerMap owners;
  owners.reserve(blobs.size() + blobs.size() / 4);
  for (auto& lp : live) {
    ProjectStats p;
    p.rec = std::move(lp.rec);
    p.root_gone = lp.root_gone;
    p.manifest_gone = lp.manifest_gone;
    p.error = std::move(lp.load_error);
    if (lp.manifest) {
      p.loaded = true;
      count_project(*lp.manifest, static_cast<uint32_t>(r.projects.size()), p, owners);
    } else {
      r.all_loaded = false;
    }
    r.projects.push_back(std::move(p));
  }
  assign_names(r.projects);
  log::debug("status: read {} manifests at {:.0f} ms", r.projects.size(), ms_since(t0));

  uint64_t present = 0;
  for (const BlobKey& b : blobs) {
    ++r.total_blobs;
    r.total_bytes += b.size;
    if (owners.count(b)) {
      ++present;
    } else {
      ++r.orphaned_blobs;
      r.orphaned_bytes += b.size;
    }
  }
  r.missing_blobs = owners.size() - std::min<uint64_t>(present, owners.size());
  log::debug("status: done at {:.0f} ms", ms_since(t0));
  return r;
}

/// PATH with $HOME shown as "~".
std::string tilde(const std::string& path) {
  const char* home = std::getenv("HOME");
  if (!home || !*home || std::string(home) == "/") return path;
  std::string h = home;
  while (h.size() > 1 && h.back() == '/')
    h.pop_back();
  if (path == h) return "~";
  if (path.rfind(h + "/", 0) == 0) return "~" + path.substr(h.size());
  return path;
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return with_commas(n) + " " + (n == 1 ? one : many);
}

std::string render_table(const StatusReport& r) {
  Table t({"Project", "Files", "Unique Blobs", "Shared", "Size"});
  for (size_t i = 0; i < r.projects.size(); ++i) {
    const ProjectStats& p = r.projects[i];
    std::string name = p.stale() ? p.name + " (stale)" : p.name;
    if (!p.loaded) {
      t.add_row({name, "?", "?", "?", "?"});
      continue;
    }
    std::string size = (i ? "+" : "") + human_bytes(p.unique_bytes);
    t.add_row({name, with_commas(p.files), with_commas(p.unique_blobs), with_commas(p.shared_blobs),
               size});
  }
  return t.render(stdout_is_tty() && locale_is_utf8(), 2);
}

void render_projects(const StatusReport& r) {
  if (r.projects.empty()) {
    fmt::print("  Registered Projects: none (`vrift ingest DIR` stores a directory and registers "
               "it)\n\n");
    return;
  }
  fmt::print("  Registered Projects:\n{}", render_table(r));
  for (const auto& p : r.projects) {
    if (p.loaded) continue;
    fmt::print("  Warning: cannot read the manifest of {}: {}\n", p.name, p.error);
  }
  uint64_t stale = 0;
  for (const auto& p : r.projects)
    stale += p.stale() ? 1 : 0;
  if (stale) {
    fmt::print("  Stale: {} whose directory or manifest is gone (run `vrift gc --prune-stale` to "
               "unregister)\n",
               plural(stale, "project", "projects"));
  }
  fmt::print("\n");
}

void render_text(const StatusReport& r) {
  fmt::print("VRift CAS Status:\n\n");
  fmt::print("  CAS Location: {}{}\n", tilde(r.store),
             r.store_exists ? "" : " (no store yet: `vrift ingest DIR` creates it)");
  fmt::print("  Total Size:   {}\n", human_bytes(r.total_bytes));
  fmt::print("  Total Blobs:  {}\n", with_commas(r.total_blobs));
  uint64_t logical = 0, stored = 0, files = 0;
  for (const auto& p : r.projects) {
    logical += p.file_bytes;
    stored += p.unique_bytes;
    files += p.files;
  }
  if (logical > 0) {
    fmt::print("  Dedup Saved:  {} ({:.1f}% of {} in {})\n", human_bytes(logical - stored),
               100.0 * static_cast<double>(logical - stored) / static_cast<double>(logical),
               human_bytes(logical), plural(files, "file", "files"));
  }
  fmt::print("\n");
  render_projects(r);
  if (r.missing_blobs) {
    fmt::print("  Missing Blobs: {} (referenced by a manifest but not in the store; run `vrift "
               "doctor`)\n",
               with_commas(r.missing_blobs));
  }
  if (r.orphaned_blobs == 0) {
    fmt::print("  Orphaned Blobs: 0 (run `vrift gc` to check)\n");
  } else if (!r.all_loaded) {
    fmt::print("  Orphaned Blobs: up to {} ({}; a manifest could not be read, so gc will not "
               "delete)\n",
               with_commas(r.orphaned_blobs), human_bytes(r.orphaned_bytes));
  } else {
    fmt::print("  Orphaned Blobs: {} ({}; run `vrift gc --delete` to remove)\n",
               with_commas(r.orphaned_blobs), human_bytes(r.orphaned_bytes));
  }
}

nlohmann::ordered_json project_json(const ProjectStats& p) {
  nlohmann::ordered_json j = {
      {"seq", p.rec.seq},
      {"name", p.name},
      {"root", p.rec.root},
      {"manifest", p.rec.manifest_path},
      {"stale", p.stale()},
      {"root_gone", p.root_gone},
      {"manifest_gone", p.manifest_gone},
  };
  if (p.loaded) {
    j["files"] = p.files;
    j["bytes"] = p.file_bytes;
    j["unique_blobs"] = p.unique_blobs;
    j["shared_blobs"] = p.shared_blobs;
    j["unique_bytes"] = p.unique_bytes;
    j["error"] = nullptr;
  } else {
    for (const char* k : {"files", "bytes", "unique_blobs", "shared_blobs", "unique_bytes"})
      j[k] = nullptr;
    j["error"] = p.error;
  }
  return j;
}

void render_json(const StatusReport& r) {
  nlohmann::ordered_json projects = nlohmann::ordered_json::array();
  for (const auto& p : r.projects)
    projects.push_back(project_json(p));
  nlohmann::ordered_json j = {
      {"store", r.store},
      {"store_exists", r.store_exists},
      {"total_bytes", r.total_bytes},
      {"total_blobs", r.total_blobs},
      {"projects", projects},
      {"orphaned_blobs", r.orphaned_blobs},
      {"orphaned_bytes", r.orphaned_bytes},
      {"orphans_exact", r.all_loaded},
      {"missing_blobs", r.missing_blobs},
  };
  fmt::print("{}\n", j.dump(2));
}

int run_status(const GlobalOptions& g, bool json) {
  auto paths = g.paths();
  if (!paths.ok()) return report(paths.error());
  auto live = registered_projects(*paths);
  if (!live.ok()) {
    // The registry's own message already names the cure; keep the error to one line then.
    bool hinted = live.error().message().find("registry --rebuild") != std::string::npos;
    return report(live.error(), hinted ? "" : "run `vrift registry --rebuild`");
  }
  auto r = compute_status(*paths, std::move(live).value());
  if (!r.ok()) return report(r.error());
  if (json)
    render_json(*r);
  else
    render_text(*r);
  return kExitOk;
}

} // namespace

void add_status_command(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto json = std::make_shared<bool>(false);
  CLI::App* c = app.add_subcommand(
      "status", "Show the store's size, each registered project's share of it, and orphans");
  c->add_flag("--json", *json, "Machine-readable report");
  c->callback([&g, json, exit_code] { *exit_code = run_status(g, *json); });
}

} // namespace vrift::cli
