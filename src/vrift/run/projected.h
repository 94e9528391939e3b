// Commands that live inside a projection. After a phantom ingest a project's files exist only in
// the store, and vrift itself does not run under the shim: `vrift run -- ./bin/tool` or
// `vrift run -- node_modules/.bin/semver` name files the kernel cannot find. They are found
// through the manifests instead (symlinks followed as the manifest records them), and a script
// is started the way the kernel starts one, and the way the shim's exec does: its interpreter
// gets the script's projected path, which the shim inside the interpreter then serves. A binary
// cannot be executed from the store (the link farm will run those).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vrift/run/command.h"
#include "vrift/run/projection.h"
#include "vrift/util/result.h"

namespace vrift::run {

/// A file entry of one of the projections, or the path outside every projection where a chain
/// of projected symlinks ends (`venv/bin/python -> /usr/bin/python3`).
struct ProjectedFile {
  size_t projection = 0; ///< index into the projections
  size_t entry = 0;      ///< index into its manifest
  std::string outside;   ///< when not empty: the chain left the projections; the disk decides
};

/// Resolves ABS, an absolute path, through PS: the part above a projection root as the disk
/// says (its longest existing prefix is canonicalised), the part inside one through its
/// manifest, following symlink entries (at most 40, like the kernel), also into another
/// projection or out of them all (then `outside` is the path the chain reached, for the disk to
/// answer). nullopt when ABS is not inside a projection or does not name a file there.
std::optional<ProjectedFile> resolve_projected(const std::string& abs,
                                               const std::vector<PlannedProjection>& ps);

/// False when ABS is certainly outside every projection of PS: its directory, canonicalised
/// as far as it exists, is neither a projection root nor below one. One realpath when the
/// directory exists, and no manifest entry read: the PATH search asks this for every directory
/// where the command is missing.
bool may_be_projected(const std::string& abs, const std::vector<PlannedProjection>& ps);

/// Whether this user may execute the file entry E as the daemon serves it (owned by us).
bool projected_executable(const EntryView& e);

/// How to start a projected file: the program to execute and its arguments.
struct Launch {
  std::string path;
  std::vector<std::string> argv;
  std::optional<Shebang> shebang; ///< set for a script: what runs it
};

/// The launch of COMMAND (argv) whose COMMAND[0] was found at FOUND, the projected file F of
/// PS, whose content is in the store at STORE_ROOT (or, for a link out of the projections, at
/// F.outside): a script as "INTERP [ARG] FOUND ARGS...", a file without "#!" or ELF magic as
/// "/bin/sh FOUND ARGS..." (as execvp does), a binary outside as F.outside with COMMAND as its
/// argv. Errors: EACCES for a binary in the store ("cannot be executed from there"), an
/// unreadable file.
Result<Launch> launch_projected(const std::string& found, const ProjectedFile& f,
                                const std::vector<PlannedProjection>& ps,
                                const std::string& store_root,
                                const std::vector<std::string>& command);

} // namespace vrift::run
