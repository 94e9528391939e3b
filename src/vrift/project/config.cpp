#include "vrift/project/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <toml++/toml.h>

#include "vrift/ingest/pattern.h"
#include "vrift/util/fs.h"

namespace vrift::project {

namespace {

void add_unique(std::vector<std::string>& v, const char* p) {
  if (std::find(v.begin(), v.end(), p) == v.end()) v.emplace_back(p);
}

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

const char* type_name(const toml::node& n) {
  switch (n.type()) {
  case toml::node_type::table:
    return "a table";
  case toml::node_type::array:
    return "an array";
  case toml::node_type::string:
    return "a string";
  case toml::node_type::integer:
    return "an integer";
  case toml::node_type::floating_point:
    return "a float";
  case toml::node_type::boolean:
    return "a boolean";
  case toml::node_type::date:
  case toml::node_type::time:
  case toml::node_type::date_time:
    return "a date/time";
  case toml::node_type::none:
    break;
  }
  return "nothing";
}

// Builds the one-line errors of one file: "project config 'F' line N: KEY: what".
class Reporter {
public:
  explicit Reporter(const std::string& file) : m_file(file) {}
  Unexpected at(const toml::node& n, const std::string& key, const std::string& what) const {
    std::string line;
    if (n.source().begin.line) line = " line " + std::to_string(n.source().begin.line);
    return fail("project config '" + m_file + "'" + line + ": " + key + ": " + what, EINVAL);
  }
  Unexpected type(const toml::node& n, const std::string& key, const char* want) const {
    return at(n, key, std::string("expected ") + want + ", got " + type_name(n));
  }

private:
  const std::string& m_file;
};

Result<std::vector<std::string>> strings(const toml::node& n, const std::string& key,
                                         const Reporter& r) {
  const toml::array* a = n.as_array();
  if (!a) return r.type(n, key, "an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < a->size(); ++i) {
    const toml::node& e = *a->get(i);
    const auto* s = e.as_string();
    if (!s) return r.type(e, key + "[" + std::to_string(i) + "]", "a string");
    out.push_back(s->get());
  }
  return out;
}

Result<std::vector<std::string>> patterns(const toml::node& n, const std::string& key,
                                          const Reporter& r) {
  VRIFT_ASSIGN(std::vector<std::string> v, strings(n, key, r));
  for (size_t i = 0; i < v.size(); ++i) {
    auto c = PathPatterns::compile({v[i]});
    if (!c.ok()) return r.at(n, key + "[" + std::to_string(i) + "]", c.error().message());
  }
  return v;
}

Result<std::vector<Kind>> kinds_of(const toml::node& n, const Reporter& r) {
  VRIFT_ASSIGN(std::vector<std::string> names, strings(n, "project.kinds", r));
  std::vector<Kind> out;
  for (size_t i = 0; i < names.size(); ++i) {
    auto k = kind_from_name(names[i]);
    if (!k)
      return r.at(n, "project.kinds[" + std::to_string(i) + "]",
                  "unknown kind '" + names[i] + "' (known: npm, cargo, pip, go)");
    if (std::find(out.begin(), out.end(), *k) == out.end()) out.push_back(*k);
  }
  return out;
}

Status check_keys(const toml::table& t, const std::string& table,
                  std::initializer_list<std::string_view> known, const Reporter& r) {
  for (auto&& [k, v] : t) {
    if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
    std::string list;
    for (auto s : known)
      list += (list.empty() ? "" : ", ") + std::string(s);
    std::string key = table.empty() ? std::string(k.str()) : table + "." + std::string(k.str());
    return r.at(v, key, "unknown key (known: " + list + ")");
  }
  return {};
}

Status apply_ingest(const toml::table& t, ProjectConfig& c, const Reporter& r) {
  VRIFT_TRY(check_keys(t, "ingest", {"ignore", "tier1", "mode", "security_filter", "manifest"}, r));
  if (const toml::node* n = t.get("ignore")) {
    VRIFT_ASSIGN(c.ignore, patterns(*n, "ingest.ignore", r));
  }
  if (const toml::node* n = t.get("tier1")) {
    VRIFT_ASSIGN(c.tier1, patterns(*n, "ingest.tier1", r));
  }
  if (const toml::node* n = t.get("mode")) {
    const auto* s = n->as_string();
    if (!s) return r.type(*n, "ingest.mode", "\"solid\" or \"phantom\"");
    if (s->get() != "solid" && s->get() != "phantom")
      return r.at(*n, "ingest.mode", "expected \"solid\" or \"phantom\", got \"" + s->get() + "\"");
    c.mode = s->get() == "phantom" ? IngestMode::Phantom : IngestMode::Solid;
  }
  if (const toml::node* n = t.get("security_filter")) {
    const auto* b = n->as_boolean();
    if (!b) return r.type(*n, "ingest.security_filter", "true or false");
    c.security_filter = b->get();
  }
  if (const toml::node* n = t.get("manifest")) {
    const auto* s = n->as_string();
    if (!s) return r.type(*n, "ingest.manifest", "a string");
    const std::string& m = s->get();
    if (m.empty() || m.back() == '/' || m.find('\0') != std::string::npos)
      return r.at(*n, "ingest.manifest", "expected a file path, got \"" + m + "\"");
    c.manifest = m;
  }
  return {};
}

// A TOML basic string.
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string array(const std::vector<std::string>& v) {
  std::string flat = "[";
  for (size_t i = 0; i < v.size(); ++i)
    flat += (i ? ", " : "") + quote(v[i]);
  flat += "]";
  if (flat.size() <= 80) return flat;
  std::string out = "[\n";
  for (const auto& s : v)
    out += "  " + quote(s) + ",\n";
  return out + "]";
}

} // namespace

ProjectConfig default_config(const std::vector<Kind>& kinds, const std::string& root) {
  ProjectConfig c;
  c.kinds = kinds;
  for (Kind k : kinds) {
    switch (k) {
    case Kind::Npm:
      add_unique(c.ignore, "node_modules/.cache/"); // bundler caches: rewritten in place
      add_unique(c.tier1, "node_modules/");
      break;
    case Kind::Cargo:
      add_unique(c.ignore, "/target/"); // anchored: a source directory may be called target
      break;
    case Kind::Pip:
      for (const char* p :
           {"__pycache__/", "*.pyc", "*.pyo", ".pytest_cache/", ".mypy_cache/", ".tox/"})
        add_unique(c.ignore, p);
      if (is_dir(root + "/.venv")) add_unique(c.tier1, "/.venv/");
      if (is_dir(root + "/venv")) add_unique(c.tier1, "/venv/");
      break;
    case Kind::Go:
      break;
    }
  }
  return c;
}

Result<ProjectConfig> parse_config(std::string_view text, const std::string& file,
                                   const std::string& root, const std::vector<Kind>& detected) {
  toml::table tbl;
  // toml++ reports syntax errors by exception in this build; none escapes this function.
  try {
    tbl = toml::parse(text, file);
  } catch (const toml::parse_error& err) {
    return fail("project config '" + file + "' line " + std::to_string(err.source().begin.line) +
                    ": " + std::string(err.description()),
                EINVAL);
  }
  Reporter r(file);
  VRIFT_TRY(check_keys(tbl, "", {"project", "ingest"}, r));
  const toml::table* project = nullptr;
  const toml::table* ingest = nullptr;
  if (const toml::node* n = tbl.get("project")) {
    project = n->as_table();
    if (!project) return r.type(*n, "project", "a table");
    VRIFT_TRY(check_keys(*project, "project", {"kinds"}, r));
  }
  if (const toml::node* n = tbl.get("ingest")) {
    ingest = n->as_table();
    if (!ingest) return r.type(*n, "ingest", "a table");
  }
  std::vector<Kind> kinds = detected;
  if (const toml::node* n = project ? project->get("kinds") : nullptr) {
    VRIFT_ASSIGN(kinds, kinds_of(*n, r));
  }
  ProjectConfig c = default_config(kinds, root);
  if (ingest) VRIFT_TRY(apply_ingest(*ingest, c, r));
  c.file = file;
  return c;
}

Result<ProjectConfig> load_config(const std::string& root, const Detection& detected) {
  std::string file = root + "/" + kConfigFile;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    if (errno == ENOENT) return default_config(detected.kinds, root);
    return fail_os("project config '" + file + "'");
  }
  if (!S_ISREG(st.st_mode)) return fail("project config '" + file + "': not a regular file");
  VRIFT_ASSIGN(std::string text, fs::read_file(file).context("project config"));
  return parse_config(text, file, root, detected.kinds);
}

std::string render_config(const ProjectConfig& c, const Detection& detected) {
  std::string kinds;
  for (Kind k : c.kinds)
    kinds += (kinds.empty() ? "" : ", ") + quote(kind_name(k));
  std::string found;
  for (const Marker& m : detected.markers)
    found += (found.empty() ? "" : ", ") + std::string(m.file);
  std::string out =
      "# vrift project configuration, written by `vrift init` from what it detected. Edit it\n"
      "# freely: `vrift init` keeps this file (`vrift init --force` rewrites it). Every key is\n"
      "# described in docs/project-config.md; a key left out takes the default of the kinds.\n"
      "\n[project]\n";
  out += found.empty() ? "# No project marker found: a generic project.\n"
                       : "# Detected from: " + found + "\n";
  out += "kinds = [" + kinds + "]\n\n[ingest]\n";
  out +=
      "# Left out of the manifest. \"name/\": a directory at any depth; \"a/b/\" or \"/name/\":\n"
      "# anchored at the project root; \"*.ext\": file names. No '!' and no '**'.\n";
  out += "ignore = " + array(c.ignore) + "\n";
  out += "# Ingested as tier1 (files become read-only and may share inodes with the store):\n"
         "# dependencies that only an installer rewrites. Everything else is tier2 (untouched).\n";
  out += "tier1 = " + array(c.tier1) + "\n";
  out += "# solid: your files stay where they are; phantom: they move into the store.\n";
  out +=
      std::string("mode = ") + (c.mode == IngestMode::Phantom ? "\"phantom\"" : "\"solid\"") + "\n";
  out += "# Leave out files that look like secrets (.env, *.pem, *.key, id_rsa, .npmrc, ...).\n";
  out += std::string("security_filter = ") + (c.security_filter ? "true" : "false") + "\n";
  out += "# The manifest `vrift init` and `vrift run` write (relative to the project root).\n";
  out += "manifest = " + quote(c.manifest) + "\n";
  return out;
}

std::string manifest_path(const ProjectConfig& c, const std::string& root) {
  if (!c.manifest.empty() && c.manifest[0] == '/') return c.manifest;
  return fs::join(root, c.manifest);
}

} // namespace vrift::project
