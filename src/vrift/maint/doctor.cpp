// How a doctor run goes:
//   1. Registry: open it (never creating it when absent), integrity check, load this store's
//      projects with their manifests (maint/projects); unloadable and stale manifests.
//   2. Store: open it without creating it; a missing store is a warning (nothing ingested yet),
//      or an error when manifests are registered for it.
//   3. One scan of blake3/ (doctor_scan), then the checks that compare it with the manifests:
//      missing blobs, re-hashing (a random sample plus every blob whose fingerprint moved, or
//      everything with --verify), quarantine.
//   4. The store-only checks (doctor_checks): permissions, layout, temp files, hard links,
//      filesystems, disk space, lock.
// Nothing here writes to the store except the filesystem probe in tmp/, which removes itself
// (and Store::open, which recreates a missing top-level directory).
#include "vrift/maint/doctor.h"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iterator>
#include <random>
#include <thread>

#include "vrift/maint/doctor_checks.h"
#include "vrift/util/human.h"

namespace vrift {

const char* check_status_name(CheckStatus s) {
  switch (s) {
  case CheckStatus::Ok:
    return "ok";
  case CheckStatus::Warning:
    return "warning";
  case CheckStatus::Error:
    return "error";
  }
  return "?";
}

size_t DoctorReport::count(CheckStatus s) const {
  return static_cast<size_t>(std::count_if(checks.begin(), checks.end(),
                                           [s](const DoctorCheck& c) { return c.status == s; }));
}

CheckStatus disk_space_status(uint64_t avail, uint64_t total) {
  constexpr uint64_t kMB = 1000 * 1000;
  if (avail < 100 * kMB) return CheckStatus::Error;
  bool low_share = total && static_cast<double>(avail) < 0.05 * static_cast<double>(total);
  if (avail < 1000 * kMB || low_share) return CheckStatus::Warning;
  return CheckStatus::Ok;
}

namespace {

using doctor::sh_quote;

/// Suspect blobs re-hashed on top of the random sample (a whole touched tree could be many).
constexpr size_t kMaxSuspects = 4096;

struct Ctx {
  const Paths& paths;
  const DoctorOptions& opts;
  DoctorReport& rep;
  std::unique_ptr<Store> store;
  bool registry_ok = false;
  std::vector<LiveProject> projects;
  std::vector<BlobSet> refs; // refs[i]: the blobs of projects[i] (empty when not loaded)
  doctor::BlobScan scan;
  BlobSet present;
};

DoctorCheck& add(Ctx& c, std::string name, CheckStatus s, std::string msg) {
  DoctorCheck k;
  k.name = std::move(name);
  k.status = s;
  k.message = std::move(msg);
  c.rep.checks.push_back(std::move(k));
  return c.rep.checks.back();
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return with_commas(n) + " " + (n == 1 ? one : many);
}

std::string vrift_cmd(const Ctx& c) {
  if (c.paths.store_origin != Origin::Flag) return "vrift";
  return "vrift --the-source-root " + sh_quote(c.paths.store_root);
}

// The advice to ingest project P again. FORCE: re-read every file (the re-ingest cache trusts
// an unchanged file without looking at its blob, so it would not restore a missing one).
std::string reingest(const Ctx& c, const ProjectRecord& r, bool force) {
  std::string cmd =
      vrift_cmd(c) + " ingest " + sh_quote(r.root) + " -o " + sh_quote(r.manifest_path);
  if (r.mode == "phantom") cmd += " --mode phantom";
  if (r.tier == "tier1") cmd += " --tier tier1";
  if (!r.prefix.empty()) cmd += " --prefix " + sh_quote(r.prefix);
  if (force) cmd += " --force-hash";
  if (r.mode == "phantom" && force)
    return "Phantom project " + r.root + " had its only copy in the store: restore the affected " +
           "files into it (e.g. from a backup), then `" + cmd + "`";
  return "Re-ingest " + r.root + ": `" + cmd + "`";
}

std::vector<size_t> referencing(const Ctx& c, const BlobKey& k) {
  std::vector<size_t> out;
  for (size_t i = 0; i < c.refs.size(); ++i)
    if (c.refs[i].count(k)) out.push_back(i);
  return out;
}

std::string referenced_by(const Ctx& c, const BlobKey& k) {
  auto idx = referencing(c, k);
  if (idx.empty()) return "not referenced by any registered manifest";
  std::string out = "referenced by ";
  for (size_t j = 0; j < idx.size(); ++j)
    out += (j ? ", " : "") + c.projects[idx[j]].rec.root;
  return out;
}

void registry_error(Ctx& c, std::string why) {
  // Registry::open already names the fix; the recommendation says it once.
  const std::string suffix = " (run `vrift registry --rebuild`)";
  if (why.size() > suffix.size() &&
      why.compare(why.size() - suffix.size(), suffix.size(), suffix) == 0)
    why.resize(why.size() - suffix.size());
  // "registry 'P' is corrupt or unreadable: registry: file is not a database" -> "P: file is..."
  const std::string what = " is corrupt or unreadable: ";
  if (auto pos = why.find(what); pos != std::string::npos) {
    std::string rest = why.substr(pos + what.size());
    if (rest.rfind("registry: ", 0) == 0) rest.erase(0, 10);
    why = c.paths.registry_db() + ": " + rest;
  }
  auto& k = add(c, "Registry", CheckStatus::Error, "corrupt (" + why + ")");
  k.recommendations.push_back("Rebuild the registry from the manifest copies kept in the store: `" +
                              vrift_cmd(c) + " registry --rebuild`");
}

void check_registry(Ctx& c) {
  std::string db = c.paths.registry_db();
  if (::access(db.c_str(), F_OK) != 0) {
    c.registry_ok = true;
    add(c, "Registry", CheckStatus::Ok, "empty (no manifests registered yet)");
    return;
  }
  auto reg = Registry::open(db);
  if (!reg.ok()) return registry_error(c, reg.error().message());
  auto integrity = reg->integrity_check();
  if (!integrity.ok()) return registry_error(c, integrity.error().message());
  if (*integrity != "ok") return registry_error(c, "integrity check: " + *integrity);
  auto projects = load_projects(*reg, c.paths.store_root);
  if (!projects.ok()) return registry_error(c, projects.error().message());
  c.projects = std::move(projects).value();
  c.registry_ok = true;
  for (const auto& p : c.projects) {
    c.refs.emplace_back();
    if (p.manifest) add_references(*p.manifest, c.refs.back());
  }
  add(c, "Registry", CheckStatus::Ok,
      "valid (" + plural(c.projects.size(), "manifest", "manifests") + ")");
}

void check_manifests(Ctx& c) {
  DoctorCheck k;
  k.name = "Manifests";
  for (const auto& p : c.projects) {
    if (p.load_error.empty() || p.stale()) continue; // a stale one is reported below
    k.details.push_back(p.rec.root + ": " + p.load_error);
    k.recommendations.push_back(reingest(c, p.rec, false));
  }
  if (k.details.empty()) return; // nothing to say: the registry line counts them
  k.status = CheckStatus::Error;
  k.message =
      plural(k.details.size(), "registered manifest cannot", "registered manifests cannot") +
      " be loaded";
  c.rep.checks.push_back(std::move(k));
}

void check_stale(Ctx& c) {
  DoctorCheck k;
  k.name = "Stale manifests";
  for (const auto& p : c.projects) {
    if (p.root_gone)
      k.details.push_back(p.rec.root + ": directory gone");
    else if (p.manifest_gone)
      k.details.push_back(p.rec.manifest_path + ": manifest gone");
  }
  if (k.details.empty()) {
    k.message = "none";
  } else {
    k.status = CheckStatus::Warning;
    k.message = with_commas(k.details.size()) + " (run gc --prune-stale)";
    k.recommendations.push_back("Run `" + vrift_cmd(c) +
                                " gc --prune-stale` to clean stale manifests");
  }
  c.rep.checks.push_back(std::move(k));
}

// False when there is no store to look at (the report says why).
bool check_store(Ctx& c) {
  const std::string& root = c.paths.store_root;
  std::string where = root + " (from " + origin_name(c.paths.store_origin) + ")";
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0 && errno == ENOENT) {
    if (c.projects.empty()) {
      auto& k = add(c, "Store", CheckStatus::Warning,
                    where + " does not exist yet (nothing "
                            "ingested)");
      k.recommendations.push_back("Run `" + vrift_cmd(c) + " ingest DIR` to create it");
      return false;
    }
    auto& k =
        add(c, "Store", CheckStatus::Error,
            where + " does not exist, but " +
                plural(c.projects.size(), "manifest is", "manifests are") + " registered for it");
    for (const auto& p : c.projects)
      if (!p.stale() && p.load_error.empty()) k.recommendations.push_back(reingest(c, p.rec, true));
    return false;
  }
  auto s = Store::open(root, /*create=*/false);
  if (!s.ok()) {
    auto& k = add(c, "Store", CheckStatus::Error, s.error().message());
    k.recommendations.push_back(std::string("Check where the store root comes from (") +
                                origin_name(c.paths.store_origin) +
                                "): it must name a vrift store, or a directory that does not "
                                "exist yet");
    return false;
  }
  c.store = std::move(s).value();
  add(c, "Store", CheckStatus::Ok, where);
  return true;
}

void check_missing(Ctx& c) {
  DoctorCheck k;
  k.name = "Missing blobs";
  uint64_t total = 0;
  size_t projects = 0;
  const ProjectRecord* only = nullptr;
  for (size_t i = 0; i < c.projects.size(); ++i) {
    const auto& p = c.projects[i];
    if (p.stale()) continue;
    uint64_t n = 0;
    for (const auto& key : c.refs[i])
      n += c.present.count(key) ? 0 : 1;
    if (!n) continue;
    total += n;
    only = &p.rec;
    k.details.push_back(plural(n, "blob", "blobs") + " referenced by " + p.rec.root +
                        (n == 1 ? " is" : " are") + " missing");
    ++projects;
    k.recommendations.push_back(reingest(c, p.rec, true));
  }
  if (!total) {
    k.message = "none (every blob the manifests reference is present)";
  } else {
    k.status = CheckStatus::Error;
    std::string who = projects == 1 ? only->root : plural(projects, "project", "projects");
    k.message = plural(total, "blob", "blobs") + " referenced by " + who +
                (total == 1 ? " is" : " are") + " missing";
    if (projects == 1) k.details.clear(); // the message says it all
  }
  c.rep.checks.push_back(std::move(k));
}

std::vector<BlobKey> integrity_candidates(const Ctx& c, size_t* suspects) {
  const auto& all = c.scan.blobs;
  *suspects = 0;
  if (c.opts.verify_all) return all;
  std::vector<BlobKey> pick;
  auto seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::mt19937_64 rng(seed ^ static_cast<uint64_t>(::getpid()));
  std::sample(all.begin(), all.end(), std::back_inserter(pick), c.opts.sample_size, rng);
  // A linked blob whose mtime moved (or any blob with the wrong size) is the likeliest damage.
  BlobSet seen(pick.begin(), pick.end());
  for (const auto& k : c.scan.suspects) {
    if (*suspects >= kMaxSuspects) break;
    if (seen.insert(k).second) {
      pick.push_back(k);
      ++*suspects;
    }
  }
  return pick;
}

std::string integrity_scope(const Ctx& c, const doctor::VerifyResult& v, size_t suspects) {
  std::string what = v.blobs >= c.scan.blobs.size()
                         ? "verified all " + plural(v.blobs, "blob", "blobs")
                         : fmt::format("verified {} of {} blobs", with_commas(v.blobs),
                                       with_commas(c.scan.blobs.size()));
  if (suspects) what += fmt::format(" ({} with a changed fingerprint)", with_commas(suspects));
  return fmt::format("{} ({}) in {:.1f} s", what, human_bytes(v.bytes), v.seconds);
}

void bad_blob_advice(Ctx& c, DoctorCheck& k, const std::vector<BlobKey>& bad) {
  doctor::Examples paths;
  std::vector<size_t> projects;
  for (const auto& b : bad) {
    std::string path = c.store->blob_path(b.hash, b.size);
    // A linked blob shares its inode with a project file: that file was written in place.
    bool linked = ::lgetxattr(path.c_str(), kFingerprintXattr, nullptr, 0) >= 0;
    k.details.push_back(fmt::format("{}... ({}, {}): bytes differ from the name; {}",
                                    b.hash.hex().substr(0, 16), human_bytes(b.size),
                                    linked ? "linked: a project file was edited in place" : "owned",
                                    referenced_by(c, b)));
    paths.add(path);
    for (size_t i : referencing(c, b))
      if (std::find(projects.begin(), projects.end(), i) == projects.end()) projects.push_back(i);
  }
  k.recommendations.push_back("Remove the corrupt blobs (an ingest stores the content again from "
                              "a project that has it; project files keep their bytes): `" +
                              doctor::command_over("rm -f", paths) + "`");
  for (size_t i : projects)
    if (!c.projects[i].stale()) k.recommendations.push_back(reingest(c, c.projects[i].rec, true));
}

unsigned hash_threads(const DoctorOptions& o) {
  if (o.threads) return o.threads;
  return std::clamp(std::thread::hardware_concurrency(), 1u, 16u);
}

void check_integrity(Ctx& c) {
  size_t suspects = 0;
  auto keys = integrity_candidates(c, &suspects);
  auto v = doctor::verify_blobs(*c.store, keys, hash_threads(c.opts));
  std::string scope = integrity_scope(c, v, suspects);
  if (v.bad.empty() && v.unreadable.empty()) {
    std::string hint = c.opts.verify_all || v.blobs >= c.scan.blobs.size()
                           ? ""
                           : " (--verify re-hashes every blob)";
    add(c, "Blob integrity", CheckStatus::Ok, "OK: " + scope + hint);
    return;
  }
  DoctorCheck k;
  k.name = "Blob integrity";
  k.status = CheckStatus::Error;
  k.message = plural(v.bad.size() + v.unreadable.size(), "bad blob", "bad blobs") + ": " + scope;
  if (!v.bad.empty()) bad_blob_advice(c, k, v.bad);
  for (const auto& u : v.unreadable)
    k.details.push_back("unreadable: " + u);
  if (!v.unreadable.empty())
    k.recommendations.push_back("Make the unreadable blobs readable again (owned blobs are "
                                "mode 0444), or remove them and re-ingest the projects using "
                                "them");
  c.rep.checks.push_back(std::move(k));
}

// Where project file PATH (a manifest entry path) lives on disk.
std::string disk_path(const ProjectRecord& r, std::string_view path) {
  if (!r.prefix.empty() && path.size() > r.prefix.size() &&
      path.substr(0, r.prefix.size()) == r.prefix && path[r.prefix.size()] == '/')
    path.remove_prefix(r.prefix.size() + 1);
  return r.root + "/" + std::string(path);
}

// The project file that still shares its inode with quarantined blob Q: the file whose in-place
// edit got the blob quarantined. Sets *PROJECT to its project's index; "" when none is found.
std::string edited_file(const Ctx& c, const doctor::QuarantinedBlob& q, size_t* project) {
  struct stat qs {};
  std::string qpath = c.paths.store_root + "/quarantine/" + q.name;
  if (!q.parsed || ::lstat(qpath.c_str(), &qs) != 0 || qs.st_nlink < 2) return "";
  for (size_t i : referencing(c, q.key)) {
    const Manifest& m = *c.projects[i].manifest;
    for (size_t e = 0; e < m.size(); ++e) {
      EntryView v = m.at(e);
      if (v.type != EntryType::File || v.size != q.key.size ||
          std::memcmp(v.hash, q.key.hash.bytes.data(), q.key.hash.bytes.size()) != 0)
        continue;
      std::string file = disk_path(c.projects[i].rec, v.path);
      struct stat fs {};
      if (::lstat(file.c_str(), &fs) == 0 && fs.st_ino == qs.st_ino && fs.st_dev == qs.st_dev) {
        *project = i;
        return file;
      }
    }
  }
  return "";
}

void check_quarantine(Ctx& c) {
  auto q = doctor::scan_quarantine(c.paths.store_root);
  if (q.empty()) {
    add(c, "Quarantine", CheckStatus::Ok, "empty");
    return;
  }
  DoctorCheck k;
  k.name = "Quarantine";
  k.status = CheckStatus::Warning;
  k.message = plural(q.size(), "blob", "blobs") + " quarantined (edited after ingest)";
  std::vector<size_t> edited;
  for (size_t j = 0; j < q.size() && j < doctor::kMaxExamples; ++j) {
    size_t i = 0;
    std::string file = edited_file(c, q[j], &i);
    if (file.empty()) {
      k.details.push_back(q[j].name + (q[j].parsed ? ": " + referenced_by(c, q[j].key) : ""));
      continue;
    }
    k.details.push_back(q[j].name + ": edited in place as " + file);
    if (std::find(edited.begin(), edited.end(), i) == edited.end()) edited.push_back(i);
  }
  for (size_t i : edited)
    if (!c.projects[i].stale()) k.recommendations.push_back(reingest(c, c.projects[i].rec, false));
  if (edited.empty())
    k.recommendations.push_back("Re-ingest the projects whose files were edited in place after "
                                "ingest, so that their manifests record the edits (the store set "
                                "its old copy aside; the projects' files keep the edits)");
  k.recommendations.push_back("Then delete the quarantined copies, kept only for inspection: `rm "
                              "-f " +
                              sh_quote(c.paths.store_root + "/quarantine") + "/*`");
  c.rep.checks.push_back(std::move(k));
}

void check_blobs(Ctx& c) {
  c.scan = doctor::scan_blobs(c.paths.store_root);
  if (!c.scan.error.empty()) {
    add(c, "CAS", CheckStatus::Error, c.scan.error);
    return;
  }
  c.present.reserve(c.scan.blobs.size());
  c.present.insert(c.scan.blobs.begin(), c.scan.blobs.end());
  if (c.registry_ok) check_missing(c);
  check_integrity(c);
  c.rep.checks.push_back(doctor::check_permissions(c.scan));
  c.rep.checks.push_back(doctor::check_layout(c.scan));
  c.rep.checks.push_back(doctor::check_links(c.scan));
}

} // namespace

DoctorReport run_doctor(const Paths& paths, const DoctorOptions& opts) {
  DoctorReport rep;
  rep.store_root = paths.store_root;
  Ctx c{paths, opts, rep, nullptr, false, {}, {}, {}, {}};
  check_registry(c);
  check_manifests(c);
  if (c.registry_ok) check_stale(c);
  if (!check_store(c)) return rep;
  check_blobs(c);
  check_quarantine(c);
  rep.checks.push_back(doctor::check_tmp(paths.store_root));
  rep.checks.push_back(doctor::check_filesystems(paths.store_root, c.projects));
  rep.checks.push_back(doctor::check_disk(paths.store_root));
  rep.checks.push_back(doctor::check_lock(paths.store_root));
  return rep;
}

} // namespace vrift
