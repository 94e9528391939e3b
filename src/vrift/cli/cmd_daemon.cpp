// `vrift daemon start|stop|status|run`.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <signal.h>
#include <thread>
#include <unistd.h>

#include "vrift/cli/common.h"
#include "vrift/daemon/server.h"
#include "vrift/proto/client.h"
#include "vrift/util/human.h"

namespace vrift::cli {

namespace {

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("vrift");
}

std::string duration(uint64_t ns) {
  uint64_t s = ns / 1000000000ULL;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {}s", s / 60, s % 60);
  return fmt::format("{}h {}m", s / 3600, (s % 3600) / 60);
}

int status(const Paths& p, bool json) {
  auto c = proto::Client::connect(p.daemon_socket(), proto::Role::Cli, proto::kCliConnectTimeoutMs);
  if (!c.ok()) {
    if (json) {
      fmt::print("{}\n", nlohmann::json{{"running", false}, {"socket", p.daemon_socket()}}.dump(2));
    } else {
      fmt::print("vrift daemon: not running (socket {})\n", p.daemon_socket());
    }
    return kExitFail;
  }
  auto r = c->call<proto::StatusReply>(proto::StatusQuery{}, proto::kCliRequestTimeoutMs);
  if (!r.ok()) return report(r.error());
  if (json) {
    nlohmann::json j = {{"running", true},
                        {"pid", r->pid},
                        {"uptime_ns", r->uptime_ns},
                        {"sessions", r->sessions},
                        {"connections", r->connections},
                        {"vdir_entries", r->vdir_entries},
                        {"commits", r->commits},
                        {"mutations", r->mutations},
                        {"rss_bytes", r->rss_bytes},
                        {"version", std::string(r->version)},
                        {"store", std::string(r->store_root)},
                        {"socket", p.daemon_socket()}};
    fmt::print("{}\n", j.dump(2));
    return kExitOk;
  }
  fmt::print("vrift daemon: running\n");
  fmt::print("  PID:          {}\n  Uptime:       {}\n  Socket:       {}\n", r->pid,
             duration(r->uptime_ns), p.daemon_socket());
  fmt::print("  Store:        {}\n  Sessions:     {}\n  Connections:  {}\n", r->store_root,
             r->sessions, r->connections);
  fmt::print("  VDir entries: {}\n  Commits:      {}\n  Mutations:    {}\n  Memory:       {}\n",
             with_commas(r->vdir_entries), with_commas(r->commits), with_commas(r->mutations),
             human_bytes(r->rss_bytes));
  return kExitOk;
}

int stop(const Paths& p) {
  auto c = proto::Client::connect(p.daemon_socket(), proto::Role::Cli, proto::kCliConnectTimeoutMs);
  if (!c.ok()) {
    fmt::print("vrift daemon: not running\n");
    return kExitOk;
  }
  int pid = static_cast<int>(c->daemon().pid);
  auto r = c->call<proto::OkReply>(proto::Shutdown{}, proto::kCliRequestTimeoutMs);
  if (!r.ok()) return report(r.error());
  for (int i = 0; i < 500 && ::kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  fmt::print("vrift daemon: stopped (pid {})\n", pid);
  return kExitOk;
}

} // namespace

void add_daemon_command(CLI::App& app, GlobalOptions& g, int* exit_code) {
  CLI::App* d = app.add_subcommand("daemon", "The per-user daemon that serves projections");
  d->require_subcommand(1);
  auto json = std::make_shared<bool>(false);
  auto idle = std::make_shared<int>(600);
  CLI::App* start = d->add_subcommand("start", "Start the daemon if it is not running");
  start->callback([&g, exit_code] {
    auto p = g.paths();
    if (!p.ok()) {
      *exit_code = report(p.error());
      return;
    }
    auto pid = ensure_daemon(*p, self_exe(), 3000);
    if (!pid.ok()) {
      *exit_code = report(pid.error());
      return;
    }
    fmt::print("vrift daemon: running (pid {}, socket {})\n", *pid, p->daemon_socket());
    *exit_code = kExitOk;
  });
  CLI::App* stp = d->add_subcommand("stop", "Stop the daemon (sessions are checkpointed first)");
  stp->callback([&g, exit_code] {
    auto p = g.paths();
    *exit_code = p.ok() ? stop(*p) : report(p.error());
  });
  CLI::App* st =
      d->add_subcommand("status", "Show the daemon's pid, uptime, sessions, commits, memory");
  st->add_flag("--json", *json, "Machine-readable");
  st->callback([&g, exit_code, json] {
    auto p = g.paths();
    *exit_code = p.ok() ? status(*p, *json) : report(p.error());
  });
  CLI::App* run = d->add_subcommand("run", "Run the daemon in the foreground");
  run->add_option("--idle-exit", *idle, "Exit after this many seconds without clients")
      ->capture_default_str();
  run->callback([&g, exit_code, idle] {
    auto p = g.paths();
    if (!p.ok()) {
      *exit_code = report(p.error());
      return;
    }
    ServerOptions o;
    o.idle_exit_ms = *idle * 1000;
    // Test hook: offer only these capability bits, as a daemon of an older vrift would.
    if (const char* caps = std::getenv("VRIFT_DAEMON_CAPABILITIES"))
      o.capabilities = std::strtoull(caps, nullptr, 0) & proto::kCapabilities;
    // Test hook: how long a session nobody holds lingers, in milliseconds.
    if (const char* linger = std::getenv("VRIFT_DAEMON_LINGER_MS"))
      o.linger_ms = static_cast<int>(std::clamp(std::strtol(linger, nullptr, 10), 0L, 86400000L));
    // Test hook: the same for a zero-config session whose files are watched and unchanged.
    if (const char* linger = std::getenv("VRIFT_DAEMON_WATCHED_LINGER_MS")) {
      o.watched_linger_ms =
          static_cast<int>(std::clamp(std::strtol(linger, nullptr, 10), 0L, 86400000L));
    }
    auto s = run_daemon(*p, o);
    *exit_code = s.ok() ? kExitOk : report(s.error());
  });
}

} // namespace vrift::cli
