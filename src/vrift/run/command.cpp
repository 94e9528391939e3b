#include "vrift/run/command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>

#include "vrift/util/fd.h"

namespace vrift::run {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

// Reads up to N bytes from the start of FD.
std::string read_head(int fd, size_t n) {
  std::string buf(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf.data() + got, n - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  buf.resize(got);
  return buf;
}

// The secure-execution reasons (the loader then ignores LD_PRELOAD paths like ours).
std::string privilege_reason(const std::string& path, const struct stat& st) {
  if (st.st_mode & S_ISUID) return "is setuid";
  if ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP)) return "is setgid";
  if (::getxattr(path.c_str(), "security.capability", nullptr, 0) > 0)
    return "has file capabilities";
  return "";
}

// Whether ST is this vrift binary (a static PIE since session 10). vrift run lets it through:
// it needs no shim (it reads the store and the paths it is given itself), and `vrift run --
// vrift ...` should not be refused as a program the projection cannot reach.
bool is_this_program(const struct stat& st) {
  struct stat self {};
  return ::stat("/proc/self/exe", &self) == 0 && self.st_dev == st.st_dev &&
         self.st_ino == st.st_ino;
}

enum class Judged { Fine, Blind, Script };

// Judges one file (no interpreter recursion); fills *reason ("is setuid, so ...": the caller
// puts the subject in front) or *script.
Judged judge(const std::string& path, std::string* reason, Shebang* script) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return Judged::Fine;
  if (std::string why = privilege_reason(path, st); !why.empty()) {
    *reason = why + ", so the loader ignores LD_PRELOAD";
    return Judged::Blind;
  }
  // An execute-only file cannot be read: exec will tell.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return Judged::Fine;
  std::string head = read_head(fd.get(), 4096);
  if (auto sb = parse_shebang(head)) {
    *script = std::move(*sb);
    return Judged::Script;
  }
  ElfCheck c = check_elf(head);
  if (c.kind == ElfKind::NeedMore) c = check_elf(read_head(fd.get(), c.need));
  if (c.kind == ElfKind::Static && !is_this_program(st)) {
    *reason = "is statically linked, so LD_PRELOAD cannot reach it";
    return Judged::Blind;
  }
  return Judged::Fine;
}

} // namespace

Probe probe_physical(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) return Probe::Missing;
  return ::access(path.c_str(), X_OK) == 0 ? Probe::Executable : Probe::NotExecutable;
}

Result<std::string> find_command(std::string_view name, const char* path_env,
                                 const ProbeFn& missing) {
  if (name.empty()) return fail("command not found", ENOENT);
  std::string n(name);
  auto probe = [&](const std::string& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR) && missing)
      return missing(p);
    return probe_physical(p);
  };
  if (n.find('/') != std::string::npos) {
    struct stat st {};
    if (::stat(n.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      return fail(n + ": Is a directory", EACCES);
    switch (probe(n)) {
    case Probe::Executable:
      return n;
    case Probe::NotExecutable:
      return fail(n + ": Permission denied", EACCES);
    case Probe::Missing:
      break;
    }
    return fail(n + ": No such file or directory", ENOENT);
  }
  std::string_view path = path_env ? path_env : "/bin:/usr/bin";
  bool denied = false;
  for (size_t i = 0; i <= path.size();) {
    size_t end = path.find(':', i);
    if (end == std::string_view::npos) end = path.size();
    std::string dir(path.substr(i, end - i));
    std::string cand = (dir.empty() ? std::string(".") : dir) + "/" + n;
    Probe p = probe(cand);
    if (p == Probe::Executable) return cand;
    denied = denied || p == Probe::NotExecutable;
    i = end + 1;
  }
  if (denied) return fail(n + ": Permission denied", EACCES);
  return fail(n + ": command not found", ENOENT);
}

std::optional<Shebang> parse_shebang(std::string_view head) {
  if (head.substr(0, 2) != "#!") return std::nullopt;
  std::string_view line = head.substr(
      2, head.find('\n') == std::string_view::npos ? std::string_view::npos : head.find('\n') - 2);
  size_t i = 0;
  while (i < line.size() && is_space(line[i]))
    ++i;
  size_t j = i;
  while (j < line.size() && !is_space(line[j]))
    ++j;
  Shebang sb;
  sb.interpreter = std::string(line.substr(i, j - i));
  while (j < line.size() && is_space(line[j]))
    ++j;
  std::string_view arg = line.substr(j);
  while (!arg.empty() && (is_space(arg.back()) || arg.back() == '\r'))
    arg.remove_suffix(1);
  sb.arg = std::string(arg);
  return sb;
}

std::string env_program(std::string_view arg) {
  size_t i = 0;
  auto next_word = [&]() -> std::string_view {
    while (i < arg.size() && is_space(arg[i]))
      ++i;
    size_t start = i;
    while (i < arg.size() && !is_space(arg[i]))
      ++i;
    return arg.substr(start, i - start);
  };
  for (std::string_view w = next_word(); !w.empty(); w = next_word()) {
    if (w == "-u" || w == "--unset" || w == "-C" || w == "--chdir") {
      (void)next_word(); // the option's value
    } else if (w.rfind("-S", 0) == 0 && w.size() > 2) {
      return std::string(w.substr(2)); // -SPROG: the split string starts right away
    } else if (w[0] == '-' || w.find('=') != std::string_view::npos) {
      continue; // another option, or NAME=VALUE
    } else {
      return std::string(w);
    }
  }
  return "";
}

std::string script_blind_spot(const std::string& script, const Shebang& sb, const char* path_env) {
  std::string reason;
  Shebang ignored;
  if (judge(sb.interpreter, &reason, &ignored) == Judged::Blind)
    return "'" + script + "' runs under '" + sb.interpreter + "', which " + reason;
  size_t slash = sb.interpreter.rfind('/');
  if (sb.interpreter.substr(slash == std::string::npos ? 0 : slash + 1) == "env") {
    auto found = find_command(env_program(sb.arg), path_env);
    if (found.ok() && judge(*found, &reason, &ignored) == Judged::Blind)
      return "'" + script + "' runs under '" + *found + "', which " + reason;
  }
  return "";
}

std::string shim_blind_spot(const std::string& path, const char* path_env) {
  std::string reason;
  Shebang sb;
  switch (judge(path, &reason, &sb)) {
  case Judged::Blind:
    return "'" + path + "' " + reason;
  case Judged::Script:
    return script_blind_spot(path, sb, path_env); // one level down, not further
  case Judged::Fine:
    break;
  }
  return "";
}

} // namespace vrift::run
