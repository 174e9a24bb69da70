// The ControlPlane's SQLite schema and two query helpers shared by its stores.

export type Row = Record<string, SqlStorageValue>;

export const all = (sql: SqlStorage, query: string, ...args: SqlStorageValue[]): Row[] => sql.exec<Row>(query, ...args).toArray();
export const one = (sql: SqlStorage, query: string, ...args: SqlStorageValue[]): Row | undefined => all(sql, query, ...args)[0];
export const str = (v: SqlStorageValue | undefined): string | null => (v === null || v === undefined ? null : String(v));
export const iso = (ms: SqlStorageValue | undefined): string => new Date(Number(ms)).toISOString();

/** Idempotent: run in the constructor. Add columns with new statements, never by editing these. */
export function migrate(sql: SqlStorage): void {
  sql.exec(`
    CREATE TABLE IF NOT EXISTS policy (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL,
      document TEXT NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,
      actor TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT, old TEXT, new TEXT, detail TEXT);
    CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, info TEXT NOT NULL, direction TEXT NOT NULL,
      transport TEXT NOT NULL, peer TEXT, updated_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS pairs (local TEXT NOT NULL, remote TEXT NOT NULL, direction TEXT NOT NULL,
      session_id TEXT NOT NULL, state TEXT NOT NULL, condition TEXT, updated_at INTEGER NOT NULL,
      PRIMARY KEY (local, remote, direction, session_id));
    CREATE INDEX IF NOT EXISTS pairs_by_session ON pairs (session_id);
    CREATE INDEX IF NOT EXISTS pairs_by_remote ON pairs (remote);
    CREATE TABLE IF NOT EXISTS peer_attempts (seq INTEGER PRIMARY KEY AUTOINCREMENT, domain TEXT NOT NULL,
      direction TEXT NOT NULL, at INTEGER NOT NULL, outcome TEXT NOT NULL, condition TEXT, detail TEXT);
    CREATE INDEX IF NOT EXISTS peer_attempts_by_domain ON peer_attempts (domain, direction, seq);
    CREATE TABLE IF NOT EXISTS metrics (name TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL,
      PRIMARY KEY (name, labels));
    CREATE TABLE IF NOT EXISTS policy_subscribers (session_id TEXT PRIMARY KEY);
  `);
  addColumn(sql, "peer_attempts", "latency_ms", "INTEGER");
  addColumn(sql, "pairs", "via", "TEXT");
}

/** ALTER TABLE ... ADD COLUMN unless the table has it already (SQLite has no IF NOT EXISTS here). */
function addColumn(sql: SqlStorage, table: string, column: string, type: string): void {
  if (all(sql, `PRAGMA table_info(${table})`).some((r) => r.name === column)) return;
  sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
}
