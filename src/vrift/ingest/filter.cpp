#include "vrift/ingest/filter.h"

#include <string>

namespace vrift {

bool is_skipped_dir(std::string_view name) { return name == ".git" || name == ".vrift"; }

const char* security_match(std::string_view name) {
  static constexpr const char* kPatterns[] = {
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
  // Each pattern has at most one '*'. Matched as fnmatch(pattern, name, FNM_PERIOD) would, with
  // no copy and no pattern parsing: that was a quarter of the instructions of re-ingesting an
  // unchanged project (the unit test compares the two on every name it tries).
  for (const char* p : kPatterns) {
    if (glob_one_star(p, name)) return p;
  }
  return nullptr;
}

bool glob_one_star(std::string_view pattern, std::string_view name) {
  const size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == name;
  const std::string_view pre = pattern.substr(0, star), suf = pattern.substr(star + 1);
  if (star == 0 && !name.empty() && name[0] == '.') return false; // FNM_PERIOD: no leading '.'
  return name.size() >= pre.size() + suf.size() && name.substr(0, pre.size()) == pre &&
         name.substr(name.size() - suf.size()) == suf;
}

} // namespace vrift
