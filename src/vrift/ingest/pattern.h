// Path patterns for what ingest leaves out (`ignore`) and what it treats as tier1 (`tier1`):
// gitignore's common subset, compiled once per ingest so that matching an entry during the walk
// allocates nothing. A literal is a string compare, "*.ext" a suffix compare; only the other
// globs reach fnmatch(3). The syntax is documented in docs/project-config.md ("Patterns").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vrift/util/result.h"

namespace vrift {

class PathPatterns {
public:
  /// Compiles PATTERNS:
  ///   "name", "*.pyc"        no '/': the last component of any entry, at any depth
  ///   "name/", "*.egg-info/" trailing '/': directories only (and so everything below them)
  ///   "a/b", "build/out/", "/dist/"  a '/' before the end or at the start: anchored at the
  ///                          root and matched against the whole relative path
  /// Globs: '*' and '?' (never across a '/'), '[...]', '\' escapes. Errors (naming the
  /// pattern): empty, '!' negation, "**", "." / ".." / empty components, longer than 4096.
  static Result<PathPatterns> compile(const std::vector<std::string>& patterns);

  /// The pattern (as written) that matches the entry at REL (relative to the walk root, no
  /// leading '/'), whose last component is NAME, or nullptr. IS_DIR: the entry is a directory.
  const char* match(const std::string& rel, const char* name, bool is_dir) const;

  /// The pattern that matches REL or one of its parent directories, or nullptr: whether an
  /// entry known only by its path lies in a matched subtree. Allocates; not for the walk.
  const char* match_path(std::string_view rel, bool is_dir) const;

  bool empty() const { return m_pats.empty(); }
  size_t size() const { return m_pats.size(); }

private:
  enum class Kind { Literal, Suffix, Glob };
  struct Pat {
    std::string text; ///< as written (what reports name)
    std::string body; ///< without the leading/trailing '/' (the Suffix kind: without the '*')
    Kind kind = Kind::Literal;
    bool anchored = false; ///< matched against the relative path, else against the name
    bool dir_only = false;
  };
  std::vector<Pat> m_pats;
};

} // namespace vrift
