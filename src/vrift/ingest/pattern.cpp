#include "vrift/ingest/pattern.h"

#include <fnmatch.h>

namespace vrift {

namespace {

constexpr const char* kGlobChars = "*?[\\";

Status check_components(std::string_view body) {
  size_t pos = 0;
  for (;;) {
    size_t next = body.find('/', pos);
    std::string_view c = body.substr(pos, next == std::string_view::npos ? next : next - pos);
    if (c.empty()) return fail("empty path component");
    if (c == "." || c == "..") return fail("'" + std::string(c) + "' components are not allowed");
    if (next == std::string_view::npos) return {};
    pos = next + 1;
  }
}

} // namespace

Result<PathPatterns> PathPatterns::compile(const std::vector<std::string>& patterns) {
  PathPatterns out;
  out.m_pats.reserve(patterns.size());
  for (const std::string& p : patterns) {
    auto bad = [&p](const std::string& why) { return fail("'" + p + "': " + why, EINVAL); };
    if (p.empty()) return fail("empty pattern", EINVAL);
    if (p.size() > 4096) return bad("longer than 4096 characters");
    if (p.find('\0') != std::string::npos) return bad("contains a NUL character");
    if (p[0] == '!') return bad("negation ('!') is not supported");
    if (p.find("**") != std::string::npos)
      return bad("'**' is not supported (a pattern without '/' already matches at any depth)");
    Pat pat;
    pat.text = p;
    std::string body = p;
    if (body.back() == '/') {
      pat.dir_only = true;
      body.pop_back();
    }
    if (!body.empty() && body.front() == '/') {
      pat.anchored = true;
      body.erase(0, 1);
    }
    if (body.empty()) return bad("matches nothing (no name)");
    if (body.find('/') != std::string::npos) pat.anchored = true;
    if (auto s = check_components(body); !s.ok()) return bad(s.error().message());
    size_t glob = body.find_first_of(kGlobChars);
    if (glob == std::string::npos) {
      pat.kind = Kind::Literal;
    } else if (!pat.anchored && glob == 0 && body[0] == '*' &&
               body.find_first_of(kGlobChars, 1) == std::string::npos) {
      pat.kind = Kind::Suffix; // "*.pyc": the hot case, a suffix compare
      body.erase(0, 1);
    } else {
      pat.kind = Kind::Glob;
    }
    pat.body = std::move(body);
    out.m_pats.push_back(std::move(pat));
  }
  return out;
}

const char* PathPatterns::match(const std::string& rel, const char* name, bool is_dir) const {
  std::string_view n(name);
  for (const Pat& p : m_pats) {
    if (p.dir_only && !is_dir) continue;
    bool hit = false;
    switch (p.kind) {
    case Kind::Literal:
      hit = p.anchored ? rel == p.body : n == p.body;
      break;
    case Kind::Suffix:
      hit = n.size() >= p.body.size() &&
            n.compare(n.size() - p.body.size(), p.body.size(), p.body) == 0;
      break;
    case Kind::Glob:
      hit = p.anchored ? ::fnmatch(p.body.c_str(), rel.c_str(), FNM_PATHNAME) == 0
                       : ::fnmatch(p.body.c_str(), name, 0) == 0;
      break;
    }
    if (hit) return p.text.c_str();
  }
  return nullptr;
}

const char* PathPatterns::match_path(std::string_view rel, bool is_dir) const {
  if (m_pats.empty()) return nullptr;
  std::string prefix;
  size_t start = 0;
  for (;;) {
    size_t slash = rel.find('/', start);
    bool last = slash == std::string_view::npos;
    prefix.assign(rel.substr(0, last ? rel.size() : slash));
    std::string name(rel.substr(start, last ? std::string_view::npos : slash - start));
    if (const char* p = match(prefix, name.c_str(), last ? is_dir : true)) return p;
    if (last) return nullptr;
    start = slash + 1;
  }
}

} // namespace vrift
