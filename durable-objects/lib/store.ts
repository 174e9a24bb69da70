// A tiny key/value table in the DO's SQLite storage: the session's metadata and engine snapshot.

export class SessionStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
  }
  get<T = string>(k: string, json = false): T | undefined {
    const row = this.sql.exec<{ v: string }>("SELECT v FROM kv WHERE k = ?", k).toArray()[0];
    if (!row) return undefined;
    return (json ? JSON.parse(row.v) : row.v) as T;
  }
  put(k: string, v: string): void {
    this.sql.exec("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
  }
  putJson(k: string, v: unknown): void {
    this.put(k, JSON.stringify(v));
  }
  delete(k: string): void {
    this.sql.exec("DELETE FROM kv WHERE k = ?", k);
  }
}
