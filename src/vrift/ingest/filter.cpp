#include "vrift/ingest/filter.h"

#include <array>
#include <iterator>
#include <string>

namespace vrift {

bool is_skipped_dir(std::string_view name) { return name == ".git" || name == ".vrift"; }

namespace {

// A pattern with at most one '*', split once at compile time: PRE '*' SUF, or LITERAL.
struct SecretPattern {
  const char* text;
  std::string_view pre, suf;
  bool star;
};

constexpr SecretPattern split(const char* p) {
  std::string_view v(p);
  const size_t star = v.find('*');
  if (star == std::string_view::npos) return {p, v, {}, false};
  return {p, v.substr(0, star), v.substr(star + 1), true};
}

constexpr const char* kPatterns[] = {
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    "*.kdbx",
    "credentials.json",
    "service-account*.json",
    ".htpasswd",
};

constexpr auto kSecrets = [] {
  std::array<SecretPattern, std::size(kPatterns)> out{};
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = split(kPatterns[i]);
  return out;
}();

} // namespace

const char* security_match(std::string_view name) {
  // Matched as fnmatch(pattern, name, FNM_PERIOD) would (the unit test compares the two on every
  // name it tries), with the patterns split at compile time: this runs for every file of every
  // ingest, and parsing 20 patterns per name was a sixth of a zero-config re-run's instructions.
  for (const SecretPattern& p : kSecrets) {
    if (!p.star) {
      if (name == p.pre) return p.text;
      continue;
    }
    if (p.pre.empty() && !name.empty() && name[0] == '.') continue; // FNM_PERIOD
    if (name.size() >= p.pre.size() + p.suf.size() && name.substr(0, p.pre.size()) == p.pre &&
        name.substr(name.size() - p.suf.size()) == p.suf)
      return p.text;
  }
  return nullptr;
}

const char* const* security_patterns(size_t* n) {
  *n = std::size(kPatterns);
  return kPatterns;
}

} // namespace vrift
