#include "vrift/ingest/filter.h"

#include <fnmatch.h>

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
  // Cheap pre-check: every pattern needs a '.' or starts with "id_"/"cred"/"serv".
  if (name.find('.') == std::string_view::npos && name.rfind("id_", 0) != 0) return nullptr;
  char buf[256];
  if (name.size() >= sizeof buf) return nullptr;
  name.copy(buf, name.size());
  buf[name.size()] = '\0';
  for (const char* p : kPatterns) {
    if (::fnmatch(p, buf, FNM_PERIOD) == 0) return p;
  }
  return nullptr;
}

} // namespace vrift
