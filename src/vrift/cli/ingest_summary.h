// The summary of an ingest, as `vrift ingest` prints it: shared by the commands that ingest
// (ingest, init).
#pragma once

#include <nlohmann/json.hpp>

#include "vrift/ingest/ingest.h"

namespace vrift::cli {

struct SummaryFlags {
  bool phantom = false;       ///< report the files moved into the store
  bool show_excluded = false; ///< list every entry left out, with its reason
  bool force_hash = false;    ///< report the mismatches --force-hash found
};

/// The human summary ("Ingested ROOT -> MANIFEST", then one indented line per figure).
void print_ingest_summary(const IngestReport& r, const SummaryFlags& f);
/// The same figures as a JSON object.
nlohmann::json ingest_summary_json(const IngestReport& r);

} // namespace vrift::cli
