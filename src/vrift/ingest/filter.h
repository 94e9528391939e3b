// What ingest leaves out: vrift's and git's own directories always, and (unless
// --no-security-filter) files that commonly hold secrets.
#pragma once

#include <string_view>

namespace vrift {

/// Directories never ingested at any depth (".git", ".vrift").
bool is_skipped_dir(std::string_view name);

/// The security pattern that NAME (a file's last component) matches, or nullptr.
/// Patterns: .env, .env.*, *.pem, *.key, *.p12, *.pfx, *.jks, *.keystore, id_rsa*, id_dsa*,
/// id_ecdsa*, id_ed25519*, .netrc, .npmrc, .pypirc, .pgpass, *.kdbx, credentials.json,
/// service-account*.json, .htpasswd.
const char* security_match(std::string_view name);

/// fnmatch(PATTERN, NAME, FNM_PERIOD) for a PATTERN with at most one '*' and no other
/// metacharacter (what security_match's patterns are).
bool glob_one_star(std::string_view pattern, std::string_view name);

} // namespace vrift
