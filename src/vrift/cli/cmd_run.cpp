// `vrift run [--manifest FILE]... [--at DIR]... -- CMD ARGS...`: runs CMD with each manifest
// projected at a directory, through the shim. The passes, bubblewrap style (everything that can
// be computed and checked is, before anything starts):
//   1. the command line: a command, each --at paired with a --manifest
//   2. the manifests (or the zero-config projection) and where each is projected
//   3. the shim library and the command (PATH search; programs the shim cannot see refused)
//   4. the daemon (started on demand) and one session per manifest, held while CMD runs
//   5. the skeleton: the directories of each manifest, created where missing
//   6. CMD with the shim preloaded, signals forwarded; then 5 undone, 4 released, and vrift
//      exits as CMD did (its status, or its signal)
// Exit status: CMD's; 125 vrift failed, 126 CMD cannot be executed, 127 no command or not found.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>

#include "vrift/cli/common.h"
#include "vrift/project/transient.h"
#include "vrift/run/cmdline.h"
#include "vrift/run/command.h"
#include "vrift/run/locate.h"
#include "vrift/run/projected.h"
#include "vrift/run/projection.h"
#include "vrift/run/sessions.h"
#include "vrift/run/skeleton.h"
#include "vrift/run/supervise.h"
#include "vrift/util/fs.h"
#include "vrift/util/log.h"

namespace vrift::cli {

namespace {

struct RunArgs {
  std::vector<std::string> manifests;
  std::vector<std::string> ats;
};

constexpr std::string_view kGlobalValueOptions[] = {"--the-source-root"};
constexpr std::string_view kRunValueOptions[] = {"-m", "--manifest", "--at"};

constexpr const char* kSynopsis = "vrift run [--manifest FILE]... [--at DIR]... -- CMD [ARGS...]";

constexpr const char* kFooter = R"(
  vrift run [--manifest FILE]... [--at DIR]... -- CMD [ARGS...]

Runs CMD with each manifest projected at the directory it was ingested from (or at --at DIR):
the vrift shim (LD_PRELOAD) serves the projected files from the store while the daemon keeps
a session open for each manifest. Usually vrift becomes CMD (exec). When directories of a
manifest are missing on disk, vrift creates them, waits for CMD (forwarding signals to it) and
removes them afterwards if unchanged. Without --manifest: zero-config, the project around the
current directory (the nearest package.json, Cargo.toml, pyproject.toml, requirements.txt,
setup.py, go.mod, vrift.manifest or vrift.toml), ingested on the way (cheap when unchanged).

--at is given once per --manifest (paired in order) or not at all. At most 8 manifests.

CMD gets: LD_PRELOAD (the shim first), VRIFT_PROJECTIONS (one line per manifest:
root<TAB>vdir<TAB>manifest<TAB>session), VRIFT_STORE, UV_USE_IO_URING=0, and VRIFT_LOG=1 with
`vrift -v run`. The shim is $VRIFT_SHIM, else libvrift_shim.so beside the vrift binary, else
../lib/vrift/libvrift_shim.so relative to it.

CMD may exist only inside a projection (a phantom project's node_modules/.bin/x): a script
there runs through its interpreter, which reads it through the shim. Static binaries,
setuid/setgid programs and programs with file capabilities ignore LD_PRELOAD: vrift run
refuses them (and scripts whose interpreter is one), as it does binaries inside a projection.

Exit status: CMD's (if CMD is killed by a signal, vrift dies by the same signal);
125 vrift failed before CMD started; 126 CMD cannot be executed (or the shim cannot see it);
127 no command given, or CMD not found.

Example: vrift run --manifest node_modules.manifest -- npm test
See docs/run.md.)";

constexpr const char* kLinkFarmHint = "such programs will run through vrift's link farm (not "
                                      "available yet); run it without vrift for now";

int failed(int code, const Error& e, const std::string& hint = "") {
  report(e, hint);
  return code;
}

// ---- Zero-config ---------------------------------------------------------------------------
// `vrift run -- CMD` without --manifest: find the project root around the current directory,
// ingest it transiently (the re-ingest cache makes a repeated run on an unchanged project read
// no file) and project the result at the root (project/transient.h). Before walking, the daemon
// is asked whether it has watched the project since the manifest was last checked against it
// and seen no change (SESSION_OPEN's kOpenWatchTree): then there is nothing to walk, and the
// run costs what a run with --manifest does (docs/run.md, "Zero-config").
struct ZeroConfig {
  run::ProjectionRequest request;
  std::optional<run::Sessions> sessions; ///< connected (and holding the session if unchanged)
  run::Projection opened;                ///< the session, when the daemon vouched for the tree
  int64_t walk_started_ns = 0;           ///< when the walk began (CLOCK_REALTIME), if one was made
  std::optional<Hash> walked_id;         ///< the id of the manifest the walk produced
  std::shared_ptr<std::thread> cache_writer; ///< the walk's re-ingest cache, still being written
};

Result<ZeroConfig> zero_config(const Paths& paths, const std::string& exe) {
  auto greeting = run::Sessions::reach(paths); // the daemon wakes while the project is found
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) return fail_os("reading the current directory");
  VRIFT_ASSIGN(auto root, project::find_root(cwd));
  if (!root) {
    return fail(std::string("no project found at or above '") + cwd +
                    "' (looked for package.json, Cargo.toml, pyproject.toml, requirements.txt, "
                    "setup.py, go.mod, vrift.toml, vrift.manifest)",
                ENOENT);
  }
  const std::string what = "ingesting the project at '" + root->dir + "'";
  VRIFT_ASSIGN(auto target, project::transient_target(paths, root->dir).context(what));
  ZeroConfig z;
  VRIFT_ASSIGN(z.sessions, run::Sessions::connect(paths, exe, std::move(greeting)));
  struct stat st {};
  if (::stat(target.manifest_path.c_str(), &st) == 0) {
    z.opened.root = target.root;
    z.opened.manifest_path = target.manifest_path;
    auto unchanged = z.sessions->open_if_tree_unchanged(z.opened);
    if (!unchanged.ok()) {
      // A manifest the daemon cannot open (damaged, from another vrift): the walk rewrites it.
      log::debug("zero-config: {}; walking the project", unchanged.error().message());
    } else if (*unchanged) {
      log::info("zero-config: project {} ({}), manifest {}: unchanged (watched by the daemon), "
                "not walked",
                target.root, root->marker, target.manifest_path);
      z.request = {target.manifest_path, target.root};
      return z;
    }
    z.opened = run::Projection{};
  }
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  z.walk_started_ns = fs::ns(now);
  target.cache_in_background = true; // written while the sessions open
  VRIFT_ASSIGN(auto prep, project::prepare_transient(paths, std::move(target)).context(what));
  log::info("zero-config: project {} ({}), manifest {}: {} files, {} new blobs, {:.0f} ms",
            prep.root, root->marker, prep.manifest_path, prep.report.files, prep.report.new_blobs,
            prep.report.seconds * 1000);
  z.request = {prep.manifest_path, prep.root};
  z.walked_id = prep.report.manifest_id;
  z.cache_writer = std::move(prep.report.cache_writer);
  return z;
}

std::string absolute(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char cwd[PATH_MAX];
  return ::getcwd(cwd, sizeof cwd) ? std::string(cwd) + "/" + p : p;
}

bool physically_missing(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) != 0;
}

std::vector<std::string> inherited_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e)
    env.emplace_back(*e);
  return env;
}

// What passes 1-3 decide.
struct Plan {
  std::optional<run::Sessions> sessions; ///< connected already (zero-config)
  std::optional<proto::Client> greeting; ///< a daemon greeted while planning (Sessions::reach)
  std::vector<run::PlannedProjection> planned;
  std::vector<run::Projection> projections; ///< root and manifest_path set
  std::string shim;
  run::SpawnSpec spawn; ///< what to execute and its argv (the environment comes last)
  std::shared_ptr<std::thread> cache_writer; ///< zero-config: joined before CMD starts
};

// Pass 3b: CMD, found as execvp finds it, or inside a projection (a phantom project's files
// exist only in the store); refused when the shim could not see into it. Returns kExitOk with
// PLAN->spawn filled in, or the exit status.
int plan_command(const std::vector<std::string>& command, const Paths& paths, Plan* plan) {
  const char* path_env = std::getenv("PATH");
  Status loaded; // the manifests' entries, checked once a candidate is looked for inside them
  bool tried = false;
  auto entries = [&] {
    if (!tried) loaded = run::load_entries(plan->planned);
    tried = true;
    return loaded.ok();
  };
  auto program = run::find_command(command[0], path_env, [&](const std::string& cand) {
    const std::string abs = absolute(cand);
    if (!run::may_be_projected(abs, plan->planned) || !entries()) return run::Probe::Missing;
    auto f = run::resolve_projected(abs, plan->planned);
    if (!f) return run::Probe::Missing;
    if (!f->outside.empty()) return run::probe_physical(f->outside);
    return run::projected_executable(plan->planned[f->projection].manifest.at(f->entry))
               ? run::Probe::Executable
               : run::Probe::NotExecutable;
  });
  if (!loaded.ok()) return failed(kExitRunFailed, loaded.error());
  if (!program.ok()) {
    return failed(program.error().errnum() == ENOENT ? kExitNotFound : kExitCannotRun,
                  program.error());
  }
  std::string why;
  const bool inside = physically_missing(*program) && entries();
  if (!loaded.ok()) return failed(kExitRunFailed, loaded.error());
  if (auto f = inside ? run::resolve_projected(absolute(*program), plan->planned) : std::nullopt) {
    // Inside a projection only: a script runs through its interpreter, as the kernel would. A
    // projected link out of the projections (a virtualenv's bin/python) exists only in the
    // manifest, so the kernel cannot follow it: the program it leads to is executed, with
    // argv[0] as given (python finds its virtualenv from argv[0]).
    auto launch = run::launch_projected(*program, *f, plan->planned, paths.store_root, command);
    if (!launch.ok()) {
      return failed(kExitCannotRun, launch.error(),
                    launch.error().errnum() == EACCES ? kLinkFarmHint : "");
    }
    if (launch->shebang)
      why = run::script_blind_spot(*program, *launch->shebang, path_env);
    else if (!f->outside.empty())
      why = run::shim_blind_spot(launch->path, path_env);
    plan->spawn = {launch->path, launch->argv, {}};
    log::info("{} is {}: running it as {}", *program,
              f->outside.empty() ? "inside a projection" : "a projected link to " + f->outside,
              launch->path);
  } else {
    why = run::shim_blind_spot(*program, path_env);
    plan->spawn = {*program, command, {}};
  }
  if (!why.empty()) {
    return failed(kExitCannotRun, Error(why + ": the vrift shim cannot see its file accesses"),
                  kLinkFarmHint);
  }
  return kExitOk;
}

// Passes 1-3: everything that is checked before anything starts. Returns kExitOk with PLAN
// filled in, or the exit status (the error is printed).
int make_plan(const GlobalOptions& g, const RunArgs& a, const std::vector<std::string>& command,
              const std::string& exe, Paths* paths, Plan* plan) {
  // 1. The command line.
  if (command.empty())
    return failed(kExitNotFound, Error("no command given"), std::string("usage: ") + kSynopsis);
  auto requests = run::pair_at(a.manifests, a.ats);
  if (!requests.ok()) return usage_error(requests.error().message());
  auto p = g.paths();
  if (!p.ok()) return failed(kExitRunFailed, p.error());
  *paths = std::move(*p);

  // 2. The manifests and their roots. With --manifest the daemon is greeted first and answers
  // while the manifests, the shim and CMD are looked at (Sessions::reach).
  std::optional<ZeroConfig> zero;
  if (!a.manifests.empty()) plan->greeting = run::Sessions::reach(*paths);
  if (a.manifests.empty()) {
    auto z = zero_config(*paths, exe);
    if (!z.ok()) {
      const bool no_project = z.error().message().rfind("no project found", 0) == 0;
      return failed(kExitRunFailed, z.error(),
                    z.error().errnum() == EXDEV
                        ? "stop it with `vrift daemon stop`, or use its store (VR_THE_SOURCE)"
                    : no_project ? "run it inside a project, `vrift init` one, or name the "
                                   "manifest: vrift run --manifest FILE -- CMD"
                                 : "");
    }
    zero = std::move(*z);
    requests = std::vector<run::ProjectionRequest>{zero->request};
    plan->sessions = std::move(zero->sessions);
  }
  for (const auto& req : *requests) {
    auto pp = run::plan_projection(*paths, req);
    if (!pp.ok()) return failed(kExitRunFailed, pp.error());
    log::info("projecting {} at {}{}", pp->manifest_path, pp->root,
              pp->prefix.empty() ? "" : " (ingested with --prefix " + pp->prefix + ")");
    plan->projections.push_back({pp->root, "", pp->manifest_path, 0});
    plan->planned.push_back(std::move(*pp));
  }
  if (zero) {
    run::Projection& zp = plan->projections.front();
    if (zero->opened.session != 0 && zero->opened.root == zp.root &&
        zero->opened.manifest_path == zp.manifest_path) {
      zp.session = zero->opened.session; // held by plan->sessions' connection
      zp.vdir_path = zero->opened.vdir_path;
      zp.skeleton_clean = zero->opened.skeleton_clean;
    }
    zp.watch_tree_since_ns = zero->walk_started_ns;
    zp.walked_manifest_id = zero->walked_id;
    plan->cache_writer = std::move(zero->cache_writer);
  }
  if (auto s = run::check_projections(plan->projections); !s.ok())
    return failed(kExitRunFailed, s.error());

  // 3. The shim and the command.
  auto shim = run::find_shim(std::getenv("VRIFT_SHIM"), exe);
  if (!shim.ok()) {
    return failed(kExitRunFailed, shim.error(),
                  "build or install the shim (target vrift_shim), or point VRIFT_SHIM at it");
  }
  plan->shim = *shim;
  if (int rc = plan_command(command, *paths, plan); rc != kExitOk) return rc;
  log::info("running {} with {}", plan->spawn.path, plan->shim);
  return kExitOk;
}

int run_command(const GlobalOptions& g, const RunArgs& a, const std::vector<std::string>& command) {
  const auto t0 = std::chrono::steady_clock::now();
  auto ms = [&t0] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  std::string exe = run::self_exe();
  Paths paths;
  Plan plan;
  if (int rc = make_plan(g, a, command, exe, &paths, &plan); rc != kExitOk) return rc;
  log::debug("run: plan ready at {:.2f} ms", ms());

  // 4. The daemon and the sessions.
  auto sessions = plan.sessions ? Result<run::Sessions>(std::move(*plan.sessions))
                                : run::Sessions::connect(paths, exe, std::move(plan.greeting));
  if (sessions.ok()) {
    if (auto s = sessions->open_all(plan.projections); !s.ok()) sessions = fail(s.error());
  }
  if (!sessions.ok()) {
    return failed(kExitRunFailed, sessions.error(),
                  sessions.error().errnum() == EXDEV
                      ? "stop it with `vrift daemon stop`, or use its store (VR_THE_SOURCE)"
                      : "");
  }
  log::debug("run: sessions open at {:.2f} ms", ms());
  auto env_projections = run::format_projections(plan.projections);
  if (!env_projections.ok()) return failed(kExitRunFailed, env_projections.error());

  // From here on the signals to forward are caught, so none is lost before CMD exists.
  auto sup = run::Supervisor::create();
  if (!sup.ok()) return failed(kExitRunFailed, sup.error());

  // 5. The skeletons (removed again by their destructors if a later step fails); none to check
  // where the daemon has watched it since it was last complete (SkeletonWatch).
  std::vector<run::Skeleton> skeletons;
  for (size_t i = 0; i < plan.planned.size(); ++i) {
    auto& p = plan.planned[i];
    if (plan.projections[i].skeleton_clean) {
      log::debug("skeleton of {}: complete (watched by the daemon)", p.root);
      continue;
    }
    if (auto s = p.manifest.load_entries().context("loading manifest '" + p.manifest_path + "'");
        !s.ok())
      return failed(kExitRunFailed, s.error());
    auto sk = run::Skeleton::ensure(p.root, p.manifest);
    if (!sk.ok()) return failed(kExitRunFailed, sk.error());
    if (sk->created_dirs() > 0) {
      log::info("created {} director{} under {}", sk->created_dirs(),
                sk->created_dirs() == 1 ? "y" : "ies", p.root);
    }
    skeletons.push_back(std::move(*sk));
  }

  // 6. CMD; then the skeletons and sessions go, and vrift ends as CMD did. First the re-ingest
  // cache a walk left to a thread, written while the sessions opened: an exec would cut it short.
  if (plan.cache_writer) {
    plan.cache_writer.reset();
    log::debug("run: the re-ingest cache written at {:.2f} ms", ms());
  }
  run::EnvInputs in{plan.shim, *env_projections, sessions->store(), g.verbose > 0};
  plan.spawn.env = run::child_environment(inherited_environment(), in);
  // Nothing to undo afterwards (no directory was created) and the sessions leased to this
  // process: vrift becomes CMD. No fork, no waiting parent; CMD gets its signals itself and its
  // status is vrift's. Otherwise vrift waits for CMD, then undoes the skeleton.
  const bool nothing_to_undo =
      std::all_of(skeletons.begin(), skeletons.end(),
                  [](const run::Skeleton& s) { return s.created_dirs() == 0; });
  if (nothing_to_undo && sessions->lease_to_this_process()) {
    log::debug("sessions leased to this process: becoming {} at {:.2f} ms", plan.spawn.path, ms());
    skeletons.clear();
    auto e = sup->exec(plan.spawn);
    return failed(e.error().errnum() == ENOENT ? kExitNotFound : kExitCannotRun, e.error());
  }
  auto exit = sup->run(plan.spawn);
  for (auto& sk : skeletons)
    sk.remove();
  sessions->close();
  if (!exit.ok())
    return failed(exit.error().errnum() == ENOENT ? kExitNotFound : kExitCannotRun, exit.error());
  if (exit->signaled) run::die_by_signal(exit->code);
  return exit->code;
}

} // namespace

std::vector<std::string> split_run_command(int argc, char** argv,
                                           std::vector<std::string>* command) {
  std::vector<std::string> args(argv, argv + argc);
  run::SplitCommandLine s =
      run::split_command_line(args, "run", kGlobalValueOptions, kRunValueOptions);
  *command = std::move(s.command);
  return std::move(s.vrift_args);
}

void add_run_command(CLI::App& app, GlobalOptions& g, int* exit_code,
                     const std::vector<std::string>* command) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* c = app.add_subcommand("run", "Run a command over projected manifests");
  c->add_option("-m,--manifest", a->manifests, "A manifest to project (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  c->add_option("--at", a->ats,
                "Project the corresponding --manifest at DIR instead of where it was ingested from")
      ->type_name("DIR")
      ->allow_extra_args(false);
  c->footer(kFooter);
  c->callback([&g, exit_code, a, command] { *exit_code = run_command(g, *a, *command); });
}

} // namespace vrift::cli
