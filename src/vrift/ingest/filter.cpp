#include "vrift/ingest/filter.h"

#include <array>
#include <cstdint>
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

// A quick "cannot match" for most names, before trying the patterns one by one. A pattern with a
// prefix only matches names starting with its first character; one without a prefix ("*.pem")
// only names ending with its suffix's last two characters. Every pattern is one or the other
// (checked below at compile time), so a name that starts with none of the first characters and
// ends with none of the tails matches nothing: "index.js" ends in "js", not in "em", "ey", ...
struct QuickReject {
  std::array<bool, 256> first{};
  std::array<uint16_t, std::size(kPatterns)> tails{};
  size_t ntails = 0;
};

constexpr uint16_t tail_of(std::string_view s) {
  return static_cast<uint16_t>(static_cast<unsigned char>(s[s.size() - 2]) << 8 |
                               static_cast<unsigned char>(s[s.size() - 1]));
}

constexpr QuickReject kQuick = [] {
  QuickReject q;
  for (const SecretPattern& p : kSecrets) {
    if (!p.pre.empty())
      q.first[static_cast<unsigned char>(p.pre[0])] = true;
    else
      q.tails[q.ntails++] = tail_of(p.suf);
  }
  return q;
}();

constexpr bool every_pattern_is_covered() {
  for (const SecretPattern& p : kSecrets)
    if (p.pre.empty() && p.suf.size() < 2) return false; // "*" or "*x": no quick rule applies
  return true;
}
static_assert(every_pattern_is_covered(), "a security pattern escapes the quick reject");

bool quick_reject(std::string_view name) {
  if (kQuick.first[static_cast<unsigned char>(name[0])]) return false;
  if (name.size() < 2) return true;
  const uint16_t t = tail_of(name);
  for (size_t i = 0; i < kQuick.ntails; ++i)
    if (kQuick.tails[i] == t) return false;
  return true;
}

} // namespace

const char* security_match(std::string_view name) {
  // Matched as fnmatch(pattern, name, FNM_PERIOD) would (the unit test compares the two on every
  // name it tries), with the patterns split at compile time: this runs for every file of every
  // ingest, and parsing 20 patterns per name was a sixth of a zero-config re-run's instructions.
  if (name.empty() || quick_reject(name)) return nullptr;
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
