#include "vrift/maint/doctor_checks.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/core.h>

#include <cstring>

#include "vrift/util/fd.h"
#include "vrift/util/fs.h"
#include "vrift/util/human.h"

namespace vrift::doctor {

namespace {

DoctorCheck make(std::string name, CheckStatus s, std::string msg) {
  DoctorCheck c;
  c.name = std::move(name);
  c.status = s;
  c.message = std::move(msg);
  return c;
}

CheckStatus worst(CheckStatus a, CheckStatus b) { return a > b ? a : b; }

std::string plural(uint64_t n, const char* one, const char* many) {
  return with_commas(n) + " " + (n == 1 ? one : many);
}

// Adds "TAG PATH" detail lines for E's examples.
void add_details(DoctorCheck& c, const char* tag, const Examples& e) {
  for (const auto& p : e.items)
    c.details.push_back(std::string(tag) + p);
}

// The effective uid's name in /etc/passwd, else its number (chown takes either). Not getpwuid:
// vrift is linked statically, and glibc's NSS modules are shared libraries.
std::string user_name() {
  const std::string uid = std::to_string(::geteuid());
  auto text = fs::read_file("/etc/passwd");
  std::string_view rest = text.ok() ? std::string_view(*text) : std::string_view();
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    // name:password:uid:...
    size_t name_end = line.find(':');
    if (name_end == 0 || name_end == std::string_view::npos) continue;
    size_t uid_at = line.find(':', name_end + 1);
    if (uid_at == std::string_view::npos) continue;
    ++uid_at;
    if (line.substr(uid_at, line.find(':', uid_at) - uid_at) == uid)
      return std::string(line.substr(0, name_end));
  }
  return uid;
}

// The mount point of PATH's filesystem: the highest ancestor on the same device.
std::string mount_point(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path;
  std::string cur = path;
  while (cur != "/") {
    std::string parent = fs::dirname(cur);
    struct stat pst {};
    if (::stat(parent.c_str(), &pst) != 0 || pst.st_dev != st.st_dev) break;
    cur = parent;
  }
  return cur;
}

} // namespace

std::string sh_quote(const std::string& s) {
  static constexpr const char* kSafe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789/._-+=:,@%";
  if (!s.empty() && s.find_first_not_of(kSafe) == std::string::npos) return s;
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'')
      out += "'\\''";
    else
      out += ch;
  }
  return out + "'";
}

std::string command_over(const std::string& cmd, const Examples& e) {
  std::string out = cmd;
  for (const auto& p : e.items)
    out += " " + sh_quote(p);
  if (e.count > e.items.size())
    out += fmt::format(" (the first {} of {}; run doctor again for the rest)", e.items.size(),
                       with_commas(e.count));
  return out;
}

DoctorCheck check_permissions(const BlobScan& s) {
  DoctorCheck c = make("CAS permissions", CheckStatus::Ok, "");
  std::vector<std::string> parts;
  if (s.writable_owned.count) {
    c.status = CheckStatus::Error;
    parts.push_back(
        plural(s.writable_owned.count, "owned blob is writable", "owned blobs are writable"));
    add_details(c, "writable: ", s.writable_owned);
    c.recommendations.push_back(
        "Make the owned blobs read-only again (the store is their only holder; a write changes "
        "every project using them), then check their bytes with `vrift doctor --verify`: `" +
        command_over("chmod a-w", s.writable_owned) + "`");
  }
  if (s.bad_dirs.count) {
    c.status = CheckStatus::Error;
    parts.push_back(plural(s.bad_dirs.count, "store directory is", "store directories are") +
                    " not yours with owner rwx");
    add_details(c, "directory: ", s.bad_dirs);
    c.recommendations.push_back("Give the store's directories back to " + user_name() +
                                " with full owner access: `" +
                                command_over("chown -h " + user_name(), s.bad_dirs) + "` and `" +
                                command_over("chmod u+rwx", s.bad_dirs) + "`");
  }
  if (s.shared_unmarked.count) {
    c.status = worst(c.status, CheckStatus::Warning);
    parts.push_back(plural(s.shared_unmarked.count, "blob shares", "blobs share") +
                    " its inode with another file but has no fingerprint");
    add_details(c, "extra links: ", s.shared_unmarked);
    c.recommendations.push_back(
        "A write through the other name would change these blobs: find it with `find / -xdev "
        "-samefile BLOB`, remove that link, and check the bytes with `vrift doctor --verify`");
  }
  std::string counts = fmt::format("{}, {} shared with project files",
                                   plural(s.blobs.size(), "blob", "blobs"), with_commas(s.linked));
  if (parts.empty()) {
    c.message = "OK (" + counts + ")";
  } else {
    for (size_t i = 0; i < parts.size(); ++i)
      c.message += (i ? "; " : "") + parts[i];
    c.message += " (" + counts + ")";
  }
  return c;
}

DoctorCheck check_layout(const BlobScan& s) {
  if (!s.stray.count) return make("CAS layout", CheckStatus::Ok, "OK (only blobs under blake3/)");
  DoctorCheck c =
      make("CAS layout", CheckStatus::Warning,
           plural(s.stray.count, "entry", "entries") +
               " under blake3/ not a blob (stray temp file, misplaced or malformed name)");
  add_details(c, "stray: ", s.stray);
  c.recommendations.push_back("vrift never reads these: inspect them and remove them: `" +
                              command_over("rm -rf", s.stray) + "`");
  return c;
}

DoctorCheck check_tmp(const std::string& root) {
  TempScan t = scan_tmp(root);
  if (!t.old.count) {
    std::string msg = "no leftovers";
    if (t.recent) msg += " (" + plural(t.recent, "file", "files") + " in use)";
    return make("Temp files", CheckStatus::Ok, msg);
  }
  DoctorCheck c = make("Temp files", CheckStatus::Warning,
                       fmt::format("{} older than an hour in tmp/ ({}): leftovers of an "
                                   "interrupted ingest",
                                   plural(t.old.count, "file", "files"), human_bytes(t.old_bytes)));
  add_details(c, "leftover: ", t.old);
  c.recommendations.push_back("Delete the temp files left by a crash (nothing refers to them): `"
                              "find " +
                              sh_quote(root + "/tmp") + " -mindepth 1 -mmin +60 -delete`");
  return c;
}

DoctorCheck check_links(const BlobScan& s) {
  if (!s.near_link_limit.count)
    return make("Hard links", CheckStatus::Ok,
                fmt::format("OK (at most {} per blob)", with_commas(s.max_links)));
  DoctorCheck c = make("Hard links", CheckStatus::Warning,
                       fmt::format("{} more than {} links (ext4 allows 65,000 per inode)",
                                   plural(s.near_link_limit.count, "blob has", "blobs have"),
                                   with_commas(kNearLinkLimit)));
  add_details(c, "many links: ", s.near_link_limit);
  c.recommendations.push_back(
      "At the limit ingest copies instead of linking (EMLINK): nothing breaks, but identical "
      "files stop sharing disk space; the links come from tier1 projects with many copies of one "
      "file");
  return c;
}

namespace {

std::string fs_caps(const std::string& root) {
  FsProbe p = probe_filesystem(root);
  if (!p.probed) return "reflink and xattrs not probed: tmp/ is not writable";
  if (p.reflink) return "reflink: yes";
  return p.xattr ? "reflink: no, hard links with fingerprints"
                 : "reflink: no, no user xattrs: every blob is a copy";
}

} // namespace

namespace {

// What to do about project P being on another filesystem than the store at ROOT, when SAME
// other projects share the store's filesystem.
std::string move_advice(const std::string& root, const LiveProject& p, size_t same) {
  std::string dir = sh_quote(mount_point(p.rec.root) + "/.vrift-store");
  std::string own =
      "`export VR_THE_SOURCE=" + dir + "` (or `vrift --the-source-root " + dir + " ...`)";
  if (same == 0)
    return "Put the store on the projects' filesystem so vrift can link instead of copy: " + own +
           ", then re-ingest the projects";
  return "Move " + p.rec.root + " onto the store's filesystem (" + mount_point(root) +
         ") and re-ingest it, or give its filesystem a store of its own: " + own;
}

} // namespace

DoctorCheck check_filesystems(const std::string& root, const std::vector<LiveProject>& projects) {
  struct stat sst {};
  if (::stat(root.c_str(), &sst) != 0)
    return make("Filesystem", CheckStatus::Error, "cannot stat the store: " + root);
  std::vector<const LiveProject*> other;
  size_t same = 0;
  for (const auto& p : projects) {
    struct stat st {};
    if (p.stale() || ::stat(p.rec.root.c_str(), &st) != 0) continue;
    if (st.st_dev == sst.st_dev)
      ++same;
    else
      other.push_back(&p);
  }
  std::string caps = fs_caps(root);
  if (other.empty() && same == 0) return make("Filesystem", CheckStatus::Ok, caps);
  if (other.empty())
    return make("Filesystem", CheckStatus::Ok,
                fmt::format("store and {} on one filesystem ({})",
                            plural(same, "project", "projects"), caps));
  std::string who = other.size() == 1 ? "project " + other[0]->rec.root
                                      : plural(other.size(), "project", "projects");
  DoctorCheck c = make("Filesystem", CheckStatus::Warning,
                       "store and " + who +
                           " are on different filesystems: vrift copies instead of hard-linking "
                           "there (no dedup on disk, slower ingest); " +
                           caps);
  for (const auto* p : other)
    c.details.push_back("other filesystem: " + p->rec.root + " (mounted at " +
                        mount_point(p->rec.root) + ")");
  c.recommendations.push_back(move_advice(root, *other[0], same));
  return c;
}

DoctorCheck check_disk(const std::string& root) {
  struct statvfs v {};
  if (::statvfs(root.c_str(), &v) != 0)
    return make("Disk space", CheckStatus::Warning,
                std::string("cannot tell (statvfs: ") + std::strerror(errno) + ")");
  uint64_t avail = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  uint64_t total = static_cast<uint64_t>(v.f_blocks) * v.f_frsize;
  double pct = total ? 100.0 * static_cast<double>(avail) / static_cast<double>(total) : 0.0;
  CheckStatus s = disk_space_status(avail, total);
  DoctorCheck c = make(
      "Disk space", s,
      fmt::format("{} available ({:.0f}% of {})", human_bytes(avail), pct, human_bytes(total)));
  if (s != CheckStatus::Ok)
    c.recommendations.push_back(
        "Free space on the store's filesystem: `vrift gc` lists blobs no manifest references, "
        "`vrift gc --delete` removes them");
  return c;
}

DoctorCheck check_lock(const std::string& root) {
  std::string p = root + "/lock";
  // Read-only is enough for flock, and doctor must not create the file.
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return make("Lock", CheckStatus::Ok, "not held (no lock file yet)");
    return make("Lock", CheckStatus::Warning, "cannot open " + p + ": " + std::strerror(errno));
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return make("Lock", CheckStatus::Ok, "not held");
  if (errno != EWOULDBLOCK)
    return make("Lock", CheckStatus::Warning, "cannot test " + p + ": " + std::strerror(errno));
  bool shared = ::flock(fd.get(), LOCK_SH | LOCK_NB) == 0;
  DoctorCheck c = make("Lock", CheckStatus::Warning, "held (an ingest or gc is running)");
  c.details.push_back(shared ? "shared lock: a writer (ingest) is running"
                             : "exclusive lock: gc --delete (or another maintenance command)");
  c.recommendations.push_back("Results above may include work in progress: run `vrift doctor` "
                              "again when it is done; if no vrift is running, see who holds the "
                              "lock with `fuser -v " +
                              sh_quote(p) + "`");
  return c;
}

} // namespace vrift::doctor
