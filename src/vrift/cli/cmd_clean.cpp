// `vrift clean --all --force [--fix-perms] [--yes]`: delete the whole store and its registry
// entries. Asks on a terminal; refuses without one unless --yes.
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <iostream>

#include "vrift/cli/common.h"
#include "vrift/maint/projects.h"
#include "vrift/registry/registry.h"
#include "vrift/util/human.h"

namespace vrift::cli {

namespace {

struct CleanArgs {
  bool all = false, force = false, fix_perms = false, yes = false;
};

// nftw callbacks cannot capture: counters for the walks live here.
uint64_t g_fixed = 0;

int fix_one(const char* path, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_D || type == FTW_DP || type == FTW_DNR) {
    if ((st->st_mode & 0700) != 0700 && ::chmod(path, (st->st_mode & 07777) | 0700) == 0) ++g_fixed;
    return 0;
  }
  if (type != FTW_F) return 0;
  // Immutable or append-only flags stop even root from unlinking.
  int fd = ::open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd >= 0) {
    int flags = 0;
    if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL))) {
      flags &= ~(FS_IMMUTABLE_FL | FS_APPEND_FL);
      if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0) ++g_fixed;
    }
    ::close(fd);
  }
  // A blob hard-linked with a (tier1, read-only) project file: give the owner write access back.
  if (st->st_nlink > 1 && !(st->st_mode & 0200) && ::chmod(path, (st->st_mode & 07777) | 0200) == 0)
    ++g_fixed;
  return 0;
}

int remove_one(const char* path, const struct stat*, int type, struct FTW*) {
  int rc = (type == FTW_DP) ? ::rmdir(path) : ::unlink(path);
  if (rc != 0) {
    fmt::print(stderr, "vrift: error: removing '{}': {}\n", path, std::strerror(errno));
    if (errno == EPERM || errno == EACCES) fmt::print(stderr, "hint: run with --fix-perms\n");
    return 1; // stop the walk
  }
  return 0;
}

bool confirm(const std::string& what) {
  fmt::print("This deletes {}. This cannot be undone.\nType 'yes' to continue: ", what);
  std::fflush(stdout);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "yes";
}

int run(const GlobalOptions& g, const CleanArgs& a) {
  if (!a.all || !a.force)
    return usage_error("clean deletes the whole store: say so with --all --force");
  auto paths = g.paths();
  if (!paths.ok()) return report(paths.error());
  const std::string& root = paths->store_root;
  if (::access(root.c_str(), F_OK) != 0) {
    fmt::print("No store at {}: nothing to clean.\n", root);
    return kExitOk;
  }
  auto store = Store::open(root, /*create=*/false);
  if (!store.ok()) {
    return report(Error("refusing to clean '" + root + "': " + store.error().message()));
  }
  auto blobs = list_blobs(**store);
  uint64_t count = 0, bytes = 0;
  if (blobs.ok()) {
    count = blobs->size();
    for (const auto& b : *blobs)
      bytes += b.size;
  }
  std::string what =
      "the store at " + root + " (" + with_commas(count) + " blobs, " + human_bytes(bytes) + ")";
  if (!a.yes) {
    if (::isatty(STDIN_FILENO) != 1) {
      return report(Error("refusing to delete " + what + " without confirmation"),
                    "no terminal to ask on: pass --yes to confirm");
    }
    if (!confirm(what)) {
      fmt::print("Aborted: nothing deleted.\n");
      return kExitFail;
    }
  }
  auto lock = (*store)->lock_for(/*exclusive=*/true, 30000);
  if (!lock.ok()) return report(lock.error());
  if (a.fix_perms) {
    g_fixed = 0;
    ::nftw(root.c_str(), fix_one, 64, FTW_PHYS);
    fmt::print("Fixed permissions or flags on {} entries\n", with_commas(g_fixed));
  }
  if (::nftw(root.c_str(), remove_one, 64, FTW_DEPTH | FTW_PHYS) != 0) return kExitFail;
  uint64_t rows = 0;
  if (auto reg = Registry::open(paths->registry_db()); reg.ok()) {
    if (auto list = reg->list(root); list.ok()) rows = list->size();
    if (auto s = reg->remove_store(root); !s.ok()) return report(s.error());
  }
  fmt::print("Removed {}\nRemoved {} registry entries\n", what, with_commas(rows));
  return kExitOk;
}

} // namespace

void add_clean_command(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto a = std::make_shared<CleanArgs>();
  CLI::App* c =
      app.add_subcommand("clean", "Delete the whole store and its registry entries (destructive)");
  c->add_flag("--all", a->all, "The whole store (required)");
  c->add_flag("--force", a->force, "Really delete (required)");
  c->add_flag("--fix-perms", a->fix_perms,
              "First make read-only, immutable or hard-linked blobs deletable");
  c->add_flag("--yes", a->yes, "Do not ask (for CI and scripts)");
  c->callback([&g, a, exit_code] { *exit_code = run(g, *a); });
}

} // namespace vrift::cli
