// Finding CMD the way execvp does, and telling in advance when the shim cannot see into it:
// the loader ignores LD_PRELOAD for a static binary (no PT_INTERP) and, in secure-execution
// mode, for a setuid, setgid or file-capability program (LESSONS 16). A script is judged by its
// interpreter, one level down (`#!/usr/bin/env node` by the `node` that PATH finds).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "vrift/util/elf.h"
#include "vrift/util/result.h"

namespace vrift::run {

/// What a candidate path is, for find_command.
enum class Probe { Missing, NotExecutable, Executable };
/// Asked about a candidate that does not exist on disk (a file inside a projection).
using ProbeFn = std::function<Probe(const std::string& path)>;

/// What the disk says PATH is: a directory or nothing is Missing.
Probe probe_physical(const std::string& path);

/// execvp's search: NAME as it is when it contains '/', else the first executable regular
/// file NAME in the directories of PATH_ENV (null: "/bin:/usr/bin"; an empty entry is the
/// current directory); a directory is skipped. A candidate missing on disk is put to MISSING
/// when given. Errors: ENOENT (nothing found: "command not found"), EACCES (found, but not
/// executable).
Result<std::string> find_command(std::string_view name, const char* path_env,
                                 const ProbeFn& missing = nullptr);

/// "#!INTERPRETER ARG": Linux passes everything after the interpreter as one argument.
struct Shebang {
  std::string interpreter;
  std::string arg; ///< empty when there is none
};
/// The shebang of a file starting with HEAD, or nullopt when it does not start with "#!".
std::optional<Shebang> parse_shebang(std::string_view head);

/// The program `#!/usr/bin/env ARG` runs: the first word of ARG that is not an env option
/// (-i, -u NAME, -S, -C DIR, ...) or a NAME=VALUE assignment; "" when there is none.
std::string env_program(std::string_view arg);

/// Why the shim cannot see into the program that runs script SCRIPT (whose "#!" line is SB):
/// its interpreter, or for `#!/usr/bin/env PROG` the PROG that PATH_ENV finds, judged as
/// shim_blind_spot judges a binary. "" when nothing is in the way.
std::string script_blind_spot(const std::string& script, const Shebang& sb, const char* path_env);

/// Why the vrift shim cannot see into the program at PATH (a one-line reason naming the file
/// and what is wrong), or "" when nothing is in the way or nothing can be told (an unreadable
/// file: exec will decide). Scripts are judged by their interpreter (PATH_ENV resolves the
/// program of `#!/usr/bin/env PROG`).
std::string shim_blind_spot(const std::string& path, const char* path_env);

} // namespace vrift::run
