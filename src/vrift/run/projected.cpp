#include "vrift/run/projected.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "vrift/store/store.h"
#include "vrift/util/fd.h"
#include "vrift/util/fs.h"

namespace vrift::run {

namespace {

constexpr int kMaxSymlinkHops = 40;

// "/a/./b//c/../d" -> "/a/b/d" (lexically; the manifest's directories are not symlinks).
std::string normalize(const std::string& abs) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < abs.size()) {
    size_t end = abs.find('/', i);
    if (end == std::string::npos) end = abs.size();
    std::string c = abs.substr(i, end - i);
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.push_back(std::move(c));
    }
    i = end + 1;
  }
  std::string out;
  for (const auto& p : parts)
    out += "/" + p;
  return out.empty() ? "/" : out;
}

// ABS with its longest existing prefix canonicalised (symlinks above the projection roots).
std::string canonical_prefix(const std::string& abs) {
  std::string head = abs, tail;
  while (head.size() > 1) {
    if (auto c = fs::canonical(head); c.ok()) return normalize(*c + tail);
    size_t slash = head.rfind('/');
    tail = head.substr(slash) + tail;
    head = slash == 0 ? "/" : head.substr(0, slash);
  }
  return normalize(abs);
}

// The projection whose root holds PATH (the deepest, when roots nest).
std::optional<size_t> projection_of(const std::string& path,
                                    const std::vector<PlannedProjection>& ps) {
  std::optional<size_t> best;
  for (size_t i = 0; i < ps.size(); ++i) {
    const std::string& r = ps[i].root;
    bool inside = r == "/" ? path.size() > 1
                           : path.size() > r.size() + 1 && path.compare(0, r.size(), r) == 0 &&
                                 path[r.size()] == '/';
    if (inside && (!best || r.size() > ps[*best].root.size())) best = i;
  }
  return best;
}

} // namespace

std::optional<ProjectedFile> resolve_projected(const std::string& abs,
                                               const std::vector<PlannedProjection>& ps) {
  std::string path = canonical_prefix(normalize(abs));
  for (int hop = 0; hop <= kMaxSymlinkHops; ++hop) {
    auto pi = projection_of(path, ps);
    if (!pi) {
      if (hop == 0) return std::nullopt;
      ProjectedFile out;
      out.outside = path; // a projected symlink led out of every projection
      return out;
    }
    const PlannedProjection& p = ps[*pi];
    std::string rel = path.substr(p.root == "/" ? 1 : p.root.size() + 1);
    // Walk the components: a symlink entry restarts the walk from its target.
    size_t end = 0;
    std::string next;
    while (next.empty()) {
      end = rel.find('/', end + 1);
      std::string cur = rel.substr(0, end);
      auto idx = p.manifest.find(cur);
      if (!idx) return std::nullopt;
      EntryView e = p.manifest.at(*idx);
      bool last = end == std::string::npos;
      if (e.type == EntryType::Symlink) {
        std::string target(e.target);
        size_t slash = cur.rfind('/');
        std::string base = p.root + (slash == std::string::npos ? "" : "/" + cur.substr(0, slash));
        next = (target[0] == '/' ? target : base + "/" + target) + (last ? "" : rel.substr(end));
      } else if (last) {
        if (e.type != EntryType::File) return std::nullopt;
        return ProjectedFile{*pi, *idx, {}};
      } else if (e.type != EntryType::Dir) {
        return std::nullopt;
      }
    }
    path = canonical_prefix(normalize(next));
  }
  return std::nullopt; // ELOOP
}

bool may_be_projected(const std::string& abs, const std::vector<PlannedProjection>& ps) {
  std::string dir = normalize(abs);
  dir = dir.substr(0, std::max<size_t>(dir.rfind('/'), 1));
  // A directory not on disk (only a projection has it, or it does not exist at all) is as far
  // as it exists canonicalised, the rest as given: a projection reached through a symlink above
  // it is found, and a missing directory elsewhere (a stale PATH entry) costs no manifest load.
  auto c = fs::canonical(dir);
  return projection_of((c.ok() ? *c : canonical_prefix(dir)) + "/x", ps).has_value();
}

bool projected_executable(const EntryView& e) {
  return (e.mode & (::getuid() == 0 ? 0111u : 0100u)) != 0;
}

Result<Launch> launch_projected(const std::string& found, const ProjectedFile& f,
                                const std::vector<PlannedProjection>& ps,
                                const std::string& store_root,
                                const std::vector<std::string>& command) {
  const bool outside = !f.outside.empty();
  std::string source = f.outside; // where the file's bytes are
  if (!outside) {
    EntryView e = ps[f.projection].manifest.at(f.entry);
    source = store_root + "/" + Store::blob_relpath(e.hash_value(), e.size);
  }
  const std::string reading =
      "reading '" + found + "' " + (outside ? "at '" : "from the store ('") + source + "'";
  UniqueFd fd(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail_os(reading + (outside ? "" : ")"));
  char head[256];
  ssize_t n;
  do {
    n = ::read(fd.get(), head, sizeof head);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail_os(reading + (outside ? "" : ")"));
  std::string_view h(head, static_cast<size_t>(n));
  Launch l;
  l.shebang = parse_shebang(h);
  if (!l.shebang && check_elf(h).kind != ElfKind::NotElf) {
    if (outside) { // the kernel can run it where the link leads; argv[0] stays as given
      l.path = f.outside;
      l.argv = command;
      return l;
    }
    return fail("'" + found +
                    "' is a binary that exists only in the store: it cannot be executed from there",
                EACCES);
  }
  if (l.shebang && l.shebang->interpreter.empty())
    return fail(found + ": Exec format error", ENOEXEC);
  l.path = l.shebang ? l.shebang->interpreter : "/bin/sh";
  l.argv.push_back(l.path);
  if (l.shebang && !l.shebang->arg.empty()) l.argv.push_back(l.shebang->arg);
  l.argv.push_back(found);
  l.argv.insert(l.argv.end(), command.begin() + 1, command.end());
  return l;
}

} // namespace vrift::run
