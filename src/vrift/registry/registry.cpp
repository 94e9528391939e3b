#include "vrift/registry/registry.h"

#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "vrift/hash/blake3.h"
#include "vrift/util/fs.h"

namespace vrift {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '1');
CREATE TABLE IF NOT EXISTS projects(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  store TEXT NOT NULL,
  root TEXT NOT NULL,
  manifest_path TEXT NOT NULL,
  copy_path TEXT NOT NULL,
  manifest_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  tier TEXT NOT NULL,
  prefix TEXT NOT NULL,
  files INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  registered_ns INTEGER NOT NULL,
  updated_ns INTEGER NOT NULL,
  UNIQUE(store, manifest_path));
)sql";

struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

Error db_error(sqlite3* db, const std::string& what) {
  return Error("registry: " + what + ": " + sqlite3_errmsg(db));
}

} // namespace

Registry::Registry(Registry&& o) noexcept : m_db(std::exchange(o.m_db, nullptr)) {}
Registry& Registry::operator=(Registry&& o) noexcept {
  if (this != &o) {
    if (m_db) sqlite3_close(m_db);
    m_db = std::exchange(o.m_db, nullptr);
  }
  return *this;
}
Registry::~Registry() {
  if (m_db) sqlite3_close(m_db);
}

Status Registry::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(m_db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return fail("registry: " + msg);
  }
  return {};
}

Result<Registry> Registry::open(const std::string& path) {
  VRIFT_TRY(fs::mkdir_p(fs::dirname(path), 0700));
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  Registry r(db);
  if (rc != SQLITE_OK)
    return fail("opening registry '" + path + "': " + (db ? sqlite3_errmsg(db) : "out of memory"));
  sqlite3_busy_timeout(db, 10000);
  // Keep the -wal and -shm files when the last connection closes: creating and unlinking them
  // on every open cost journal commits on each `vrift run` (zero-config opens the registry).
  int persist = 1;
  (void)sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  // A damaged file shows up on the first statement: report it as a corrupt registry.
  // journal_size_limit=0: a checkpoint that empties the WAL also truncates it, so that the next
  // connection finds nothing to checkpoint when it closes (a persistent WAL otherwise kept its
  // frames, and every close wrote them into the database again, with two fdatasyncs).
  if (auto s = r.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                      "PRAGMA journal_size_limit=0;");
      !s.ok()) {
    return fail("registry '" + path + "' is corrupt or unreadable: " + s.error().message() +
                " (run `vrift registry --rebuild`)");
  }
  // The schema only when it is not there yet: its INSERT OR IGNORE is a write transaction
  // even when it inserts nothing, and each one cost two fdatasyncs plus a WAL checkpoint at
  // close (~2 ms of every zero-config `vrift run`).
  if (!r.has_schema()) {
    if (auto s = r.exec(kSchema); !s.ok()) {
      return fail("registry '" + path + "' is corrupt or unreadable: " + s.error().message() +
                  " (run `vrift registry --rebuild`)");
    }
  }
  return r;
}

bool Registry::has_schema() const {
  Stmt st;
  if (sqlite3_prepare_v2(m_db,
                         "SELECT value FROM meta WHERE key = 'schema' AND value = '1' AND EXISTS "
                         "(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'projects')",
                         -1, &st.s, nullptr) != SQLITE_OK)
    return false;
  return sqlite3_step(st.s) == SQLITE_ROW;
}

Status Registry::upsert(ProjectRecord& rec) {
  Stmt st;
  const char* sql =
      "INSERT INTO projects(store, root, manifest_path, copy_path, manifest_id, mode, tier, prefix,"
      " files, bytes, registered_ns, updated_ns) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"
      " ON CONFLICT(store, manifest_path) DO UPDATE SET root=excluded.root,"
      " copy_path=excluded.copy_path, manifest_id=excluded.manifest_id, mode=excluded.mode,"
      " tier=excluded.tier, prefix=excluded.prefix, files=excluded.files, bytes=excluded.bytes,"
      " updated_ns=excluded.updated_ns RETURNING seq, registered_ns";
  if (sqlite3_prepare_v2(m_db, sql, -1, &st.s, nullptr) != SQLITE_OK)
    return fail(db_error(m_db, "preparing"));
  int i = 1;
  for (const std::string* s : {&rec.store, &rec.root, &rec.manifest_path, &rec.copy_path,
                               &rec.manifest_id, &rec.mode, &rec.tier, &rec.prefix}) {
    sqlite3_bind_text(st.s, i++, s->c_str(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
  }
  sqlite3_bind_int64(st.s, i++, static_cast<sqlite3_int64>(rec.files));
  sqlite3_bind_int64(st.s, i++, static_cast<sqlite3_int64>(rec.bytes));
  sqlite3_bind_int64(st.s, i++, rec.registered_ns);
  sqlite3_bind_int64(st.s, i++, rec.updated_ns);
  int rc = sqlite3_step(st.s);
  if (rc != SQLITE_ROW) return fail(db_error(m_db, "registering '" + rec.manifest_path + "'"));
  rec.seq = sqlite3_column_int64(st.s, 0);
  rec.registered_ns = sqlite3_column_int64(st.s, 1);
  while (rc == SQLITE_ROW)
    rc = sqlite3_step(st.s);
  if (rc != SQLITE_DONE) return fail(db_error(m_db, "registering '" + rec.manifest_path + "'"));
  return {};
}

Result<std::vector<ProjectRecord>> Registry::list(const std::string& store) const {
  Stmt st;
  const char* sql =
      "SELECT seq, store, root, manifest_path, copy_path, manifest_id, mode, tier, prefix, files,"
      " bytes, registered_ns, updated_ns FROM projects WHERE store = ? ORDER BY seq";
  if (sqlite3_prepare_v2(m_db, sql, -1, &st.s, nullptr) != SQLITE_OK)
    return fail(db_error(m_db, "reading"));
  sqlite3_bind_text(st.s, 1, store.c_str(), static_cast<int>(store.size()), SQLITE_TRANSIENT);
  std::vector<ProjectRecord> out;
  int rc;
  auto text = [&](int col) {
    const unsigned char* t = sqlite3_column_text(st.s, col);
    return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
  };
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    ProjectRecord r;
    r.seq = sqlite3_column_int64(st.s, 0);
    r.store = text(1);
    r.root = text(2);
    r.manifest_path = text(3);
    r.copy_path = text(4);
    r.manifest_id = text(5);
    r.mode = text(6);
    r.tier = text(7);
    r.prefix = text(8);
    r.files = static_cast<uint64_t>(sqlite3_column_int64(st.s, 9));
    r.bytes = static_cast<uint64_t>(sqlite3_column_int64(st.s, 10));
    r.registered_ns = sqlite3_column_int64(st.s, 11);
    r.updated_ns = sqlite3_column_int64(st.s, 12);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return fail(db_error(m_db, "reading"));
  return out;
}

Status Registry::remove(int64_t seq) {
  Stmt st;
  if (sqlite3_prepare_v2(m_db, "DELETE FROM projects WHERE seq = ?", -1, &st.s, nullptr) !=
      SQLITE_OK) {
    return fail(db_error(m_db, "preparing"));
  }
  sqlite3_bind_int64(st.s, 1, seq);
  if (sqlite3_step(st.s) != SQLITE_DONE) return fail(db_error(m_db, "removing"));
  return {};
}

Status Registry::remove_store(const std::string& store) {
  Stmt st;
  if (sqlite3_prepare_v2(m_db, "DELETE FROM projects WHERE store = ?", -1, &st.s, nullptr) !=
      SQLITE_OK) {
    return fail(db_error(m_db, "preparing"));
  }
  sqlite3_bind_text(st.s, 1, store.c_str(), static_cast<int>(store.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE) return fail(db_error(m_db, "removing"));
  return {};
}

Result<std::string> Registry::integrity_check() const {
  Stmt st;
  if (sqlite3_prepare_v2(m_db, "PRAGMA integrity_check", -1, &st.s, nullptr) != SQLITE_OK) {
    return fail(db_error(m_db, "checking"));
  }
  std::string out;
  while (sqlite3_step(st.s) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st.s, 0);
    if (!out.empty()) out += "; ";
    out += t ? reinterpret_cast<const char*>(t) : "";
  }
  return out;
}

std::string manifest_copy_path(const std::string& copies_dir, const std::string& manifest_path) {
  return copies_dir + "/" + blake3(manifest_path).hex().substr(0, 32) + ".manifest";
}

Status register_manifest(Registry& reg, const std::string& copies_dir, ProjectRecord& rec,
                         std::string_view bytes) {
  rec.copy_path = manifest_copy_path(copies_dir, rec.manifest_path);
  VRIFT_TRY(
      fs::write_file_atomic(rec.copy_path, bytes, 0444).context("keeping a copy of the manifest"));
  VRIFT_TRY(reg.upsert(rec));
  std::string sidecar = rec.copy_path.substr(0, rec.copy_path.size() - 9) + ".json";
  return fs::write_file_atomic(sidecar, project_sidecar_json(rec), 0644);
}

std::string project_sidecar_json(const ProjectRecord& r) {
  nlohmann::json j = {{"store", r.store},
                      {"root", r.root},
                      {"manifest_path", r.manifest_path},
                      {"manifest_id", r.manifest_id},
                      {"mode", r.mode},
                      {"tier", r.tier},
                      {"prefix", r.prefix},
                      {"files", r.files},
                      {"bytes", r.bytes},
                      {"registered_ns", r.registered_ns},
                      {"updated_ns", r.updated_ns}};
  return j.dump(2) + "\n";
}

Result<ProjectRecord> parse_project_sidecar(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return fail("not a JSON object");
  ProjectRecord r;
  auto str = [&](const char* k, std::string& out) {
    if (j.contains(k) && j[k].is_string()) out = j[k].get<std::string>();
  };
  str("store", r.store);
  str("root", r.root);
  str("manifest_path", r.manifest_path);
  str("manifest_id", r.manifest_id);
  str("mode", r.mode);
  str("tier", r.tier);
  str("prefix", r.prefix);
  if (j.contains("files") && j["files"].is_number_unsigned()) r.files = j["files"].get<uint64_t>();
  if (j.contains("bytes") && j["bytes"].is_number_unsigned()) r.bytes = j["bytes"].get<uint64_t>();
  if (j.contains("registered_ns") && j["registered_ns"].is_number_integer())
    r.registered_ns = j["registered_ns"].get<int64_t>();
  if (j.contains("updated_ns") && j["updated_ns"].is_number_integer())
    r.updated_ns = j["updated_ns"].get<int64_t>();
  if (r.manifest_path.empty() || r.root.empty()) return fail("sidecar lacks manifest_path or root");
  return r;
}

} // namespace vrift
