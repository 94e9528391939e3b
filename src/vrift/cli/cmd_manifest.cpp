// `vrift manifest show|id|diff`: load manifests, render them as aligned text or --json.
//
// Text output escapes control bytes in paths and targets (\xNN) so that every entry stays on one
// line; JSON output holds the exact strings, with bytes that are not UTF-8 replaced by U+FFFD.
#include <fmt/core.h>

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "vrift/cli/common.h"
#include "vrift/manifest/manifest.h"
#include "vrift/util/escape.h"
#include "vrift/util/human.h"

namespace vrift::cli {
namespace {

using json = nlohmann::ordered_json; // keys in the documented order

struct ShowOptions {
  std::string file;
  bool json = false;
};
struct DiffOptions {
  std::string a, b;
  bool json = false;
};

// Nanoseconds since the epoch as "2026-01-02T03:04:05.123456789Z" (UTC, always 30 characters
// for years 1000-9999).
std::string format_mtime(int64_t ns) {
  int64_t sec = ns / 1000000000;
  int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --sec;
  }
  auto t = static_cast<time_t>(sec);
  struct tm tm {};
  if (::gmtime_r(&t, &tm) == nullptr) return fmt::format("{}ns", ns);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

std::string mode_str(uint32_t mode) { return fmt::format("{:04o}", mode); }

std::string dump(const json& j, int indent = -1) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return with_commas(n) + " " + (n == 1 ? one : many);
}

void print_summary(const Manifest& m) {
  uint64_t files = 0, dirs = 0, links = 0, bytes = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    EntryView e = m.at(i);
    if (e.type == EntryType::File) {
      ++files;
      bytes += e.size;
    } else if (e.type == EntryType::Dir) {
      ++dirs;
    } else {
      ++links;
    }
  }
  fmt::print("id       {}\n", m.id().hex());
  fmt::print("origin   {}\n", m.origin().empty() ? "(none)" : escape_control(m.origin()));
  fmt::print("entries  {} ({}, {}, {})\n", with_commas(m.size()), plural(files, "file", "files"),
             plural(dirs, "dir", "dirs"), plural(links, "symlink", "symlinks"));
  fmt::print("content  {} ({} bytes in files)\n", human_bytes(bytes), with_commas(bytes));
}

// One line per entry: type, mode, size (right-aligned), mtime, hash (files) and the path; a
// directory's path ends in '/', a symlink's is followed by "-> target" as in ls -l.
void print_entries(const Manifest& m) {
  size_t size_width = 1;
  bool any_file = false;
  for (size_t i = 0; i < m.size(); ++i) {
    EntryView e = m.at(i);
    if (e.type != EntryType::Dir) size_width = std::max(size_width, std::to_string(e.size).size());
    any_file = any_file || e.type == EntryType::File;
  }
  size_t hash_width = any_file ? 64 : 1;
  for (size_t i = 0; i < m.size(); ++i) {
    EntryView e = m.at(i);
    const char* kind = e.type == EntryType::File  ? "file"
                       : e.type == EntryType::Dir ? "dir"
                                                  : "link";
    std::string size = e.type == EntryType::Dir ? "-" : std::to_string(e.size);
    std::string hash = e.type == EntryType::File ? e.hash_value().hex() : "-";
    std::string path = escape_control(e.path);
    if (e.type == EntryType::Dir) path += '/';
    if (e.type == EntryType::Symlink) path += " -> " + escape_control(e.target);
    fmt::print("{:<4}  {}  {:>{}}  {}  {:<{}}  {}\n", kind, mode_str(e.mode), size, size_width,
               format_mtime(e.mtime_ns), hash, hash_width, path);
  }
}

json entry_json(const EntryView& e) {
  json j = {{"path", std::string(e.path)},
            {"type", entry_type_name(e.type)},
            {"mode", mode_str(e.mode)},
            {"size", e.size},
            {"mtime_ns", e.mtime_ns}};
  if (e.type == EntryType::File) j["hash"] = e.hash_value().hex();
  if (e.type == EntryType::Symlink) j["target"] = std::string(e.target);
  return j;
}

// Streams the document one entry per line rather than building it whole (manifests can hold
// millions of entries).
void print_json(const Manifest& m) {
  json origin = m.origin().empty() ? json(nullptr) : json(std::string(m.origin()));
  fmt::print("{{\n  \"id\": \"{}\",\n  \"origin\": {},\n  \"entries\": [", m.id().hex(),
             dump(origin));
  for (size_t i = 0; i < m.size(); ++i)
    fmt::print("{}\n    {}", i ? "," : "", dump(entry_json(m.at(i))));
  fmt::print("{}]\n}}\n", m.size() ? "\n  " : "");
}

int run_show(const ShowOptions& o) {
  auto m = Manifest::open(o.file);
  if (!m) return report(m.error());
  if (o.json) {
    print_json(*m);
  } else {
    print_summary(*m);
    if (m->size() > 0) fmt::print("\n");
    print_entries(*m);
  }
  return kExitOk;
}

int run_id(const std::string& file) {
  auto m = Manifest::open(file);
  if (!m) return report(m.error());
  fmt::print("{}\n", m->id().hex());
  return kExitOk;
}

const char* kind_name(DiffItem::Kind k) {
  switch (k) {
  case DiffItem::Added:
    return "added";
  case DiffItem::Removed:
    return "removed";
  case DiffItem::Modified:
    return "modified";
  }
  return "unknown";
}

// Exit status as diff(1): 0 identical, 1 different, 2 trouble (a manifest that cannot be
// loaded), so that a script can tell "different" from "could not compare".
int run_diff(const DiffOptions& o) {
  auto a = Manifest::open(o.a);
  if (!a) {
    report(a.error());
    return kExitUsage;
  }
  auto b = Manifest::open(o.b);
  if (!b) {
    report(b.error());
    return kExitUsage;
  }
  std::vector<DiffItem> items = diff_manifests(*a, *b);
  if (o.json) {
    json changes = json::array();
    for (const auto& d : items) {
      json j = {{"change", kind_name(d.kind)}, {"path", d.path}};
      if (d.kind == DiffItem::Modified) j["what"] = d.what;
      changes.push_back(std::move(j));
    }
    json doc = {{"a", a->id().hex()},
                {"b", b->id().hex()},
                {"identical", items.empty()},
                {"changes", std::move(changes)}};
    fmt::print("{}\n", dump(doc, 2));
  } else if (items.empty()) {
    fmt::print("manifests are identical\n");
  } else {
    for (const auto& d : items) {
      std::string path = escape_control(d.path);
      if (d.kind == DiffItem::Added)
        fmt::print("+ {}\n", path);
      else if (d.kind == DiffItem::Removed)
        fmt::print("- {}\n", path);
      else
        fmt::print("M {} ({})\n", path, d.what);
    }
  }
  return items.empty() ? kExitOk : kExitFail;
}

} // namespace

void add_manifest_command(CLI::App& app, GlobalOptions& /*g*/, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("manifest", "Inspect manifests: show, id, diff");
  cmd->require_subcommand(1);

  auto show_opts = std::make_shared<ShowOptions>();
  CLI::App* show = cmd->add_subcommand("show", "List a manifest's header and entries");
  show->add_option("FILE", show_opts->file, "Manifest file")->required();
  show->add_flag("--json", show_opts->json, "Print JSON instead of text");
  show->callback([show_opts, exit_code] { *exit_code = run_show(*show_opts); });

  auto id_file = std::make_shared<std::string>();
  CLI::App* id = cmd->add_subcommand("id", "Print a manifest's id (64 hex digits)");
  id->add_option("FILE", *id_file, "Manifest file")->required();
  id->callback([id_file, exit_code] { *exit_code = run_id(*id_file); });

  auto diff_opts = std::make_shared<DiffOptions>();
  CLI::App* diff = cmd->add_subcommand(
      "diff", "Differences from manifest A to B (exit 0: identical, 1: different, 2: trouble)");
  diff->add_option("A", diff_opts->a, "Old manifest")->required();
  diff->add_option("B", diff_opts->b, "New manifest")->required();
  diff->add_flag("--json", diff_opts->json, "Print JSON instead of text");
  diff->callback([diff_opts, exit_code] { *exit_code = run_diff(*diff_opts); });
}

} // namespace vrift::cli
