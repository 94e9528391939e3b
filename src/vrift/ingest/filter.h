// What ingest leaves out: vrift's and git's own directories always, and (unless
// --no-security-filter) files that commonly hold secrets.
#pragma once

#include <cstddef>
#include <string_view>

namespace vrift {

/// Directories never ingested at any depth (".git", ".vrift").
bool is_skipped_dir(std::string_view name);

/// The security pattern that NAME (a file's last component) matches, or nullptr.
/// Patterns: .env, .env.*, *.pem, *.key, *.p12, *.pfx, *.jks, *.keystore, id_rsa*, id_dsa*,
/// id_ecdsa*, id_ed25519*, .netrc, .npmrc, .pypirc, .pgpass, *.kdbx, credentials.json,
/// service-account*.json, .htpasswd.
const char* security_match(std::string_view name);

/// security_match's patterns, in the order it tries them (N of them); it matches NAME as
/// fnmatch(pattern, NAME, FNM_PERIOD) would.
const char* const* security_patterns(size_t* n);

} // namespace vrift
