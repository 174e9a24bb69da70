// A tiny key/value table in the DO's SQLite storage: the session's metadata and engine snapshot.

/** What a stream's shell needs from its store (SessionStore, or MemoryStore for a link kept in memory). */
export interface KeyValueStore {
  get<T = string>(k: string, json?: boolean): T | undefined;
  put(k: string, v: string): void;
  putJson(k: string, v: unknown): void;
  delete(k: string): void;
  /** Rows whose key starts with `prefix`, in key order. */
  entries(prefix: string): [string, string][];
  /** Nothing here is ever read back after the instance is gone (a shell need not persist to it). */
  readonly volatile?: boolean;
}

/** The first key after every key that starts with `prefix`. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

export class SessionStore implements KeyValueStore {
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
  /** Every row whose key starts with `prefix`. */
  deletePrefix(prefix: string): void {
    this.sql.exec("DELETE FROM kv WHERE k >= ? AND k < ?", prefix, prefixEnd(prefix));
  }
  entries(prefix: string): [string, string][] {
    // A range on the primary key: every key with the prefix sorts between it and the prefix with
    // its last character incremented.
    return this.sql.exec<{ k: string; v: string }>("SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k", prefix, prefixEnd(prefix)).toArray().map((r) => [r.k, r.v]);
  }
}

/**
 * The same in memory: for a stream with nothing worth persisting (an authority link, whose pending
 * verifications die with their callers), so it writes no SQLite per verification.
 */
export class MemoryStore implements KeyValueStore {
  readonly #m = new Map<string, string>();
  readonly volatile = true;
  get<T = string>(k: string, json = false): T | undefined {
    const v = this.#m.get(k);
    if (v === undefined) return undefined;
    return (json ? JSON.parse(v) : v) as T;
  }
  put(k: string, v: string): void {
    this.#m.set(k, v);
  }
  putJson(k: string, v: unknown): void {
    this.put(k, JSON.stringify(v));
  }
  delete(k: string): void {
    this.#m.delete(k);
  }
  entries(prefix: string): [string, string][] {
    return [...this.#m].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1));
  }
}

/**
 * One stream's key space in the DO's store (a channel of a multiplexed link): every key behind
 * `prefix`, so the streams of one DO never see each other's rows.
 */
export class PrefixedStore implements KeyValueStore {
  constructor(
    private readonly base: SessionStore,
    readonly prefix: string,
  ) {}
  get<T = string>(k: string, json = false): T | undefined {
    return this.base.get<T>(this.prefix + k, json);
  }
  put(k: string, v: string): void {
    this.base.put(this.prefix + k, v);
  }
  putJson(k: string, v: unknown): void {
    this.base.putJson(this.prefix + k, v);
  }
  delete(k: string): void {
    this.base.delete(this.prefix + k);
  }
  entries(prefix: string): [string, string][] {
    return this.base.entries(this.prefix + prefix).map(([k, v]) => [k.slice(this.prefix.length), v]);
  }
  /** Every row of this stream. */
  clear(): void {
    this.base.deletePrefix(this.prefix);
  }
}
