#include "vrift/ingest/filter.h"

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

constexpr SecretPattern kSecrets[] = {
    split(".env"),
    split(".env.*"),
    split("*.pem"),
    split("*.key"),
    split("*.p12"),
    split("*.pfx"),
    split("*.jks"),
    split("*.keystore"),
    split("id_rsa*"),
    split("id_dsa*"),
    split("id_ecdsa*"),
    split("id_ed25519*"),
    split(".netrc"),
    split(".npmrc"),
    split(".pypirc"),
    split(".pgpass"),
    split("*.kdbx"),
    split("credentials.json"),
    split("service-account*.json"),
    split(".htpasswd"),
};

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
  static const char* const texts[] = {
      kSecrets[0].text,  kSecrets[1].text,  kSecrets[2].text,  kSecrets[3].text,
      kSecrets[4].text,  kSecrets[5].text,  kSecrets[6].text,  kSecrets[7].text,
      kSecrets[8].text,  kSecrets[9].text,  kSecrets[10].text, kSecrets[11].text,
      kSecrets[12].text, kSecrets[13].text, kSecrets[14].text, kSecrets[15].text,
      kSecrets[16].text, kSecrets[17].text, kSecrets[18].text, kSecrets[19].text};
  static_assert(std::size(texts) == std::size(kSecrets));
  *n = std::size(texts);
  return texts;
}

} // namespace vrift
