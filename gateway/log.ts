// Structured logs: one JSON object per line on stdout, so any collector can parse them. Fields:
// ts (ISO 8601), level, msg, and the connection's context (conn, peer, port) plus event fields.

export type Level = "debug" | "info" | "warn" | "error";
export type Fields = Record<string, unknown>;

export interface Logger {
  log(level: Level, msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
  /** Whether `level` is logged (skip building expensive fields otherwise). */
  enabled(level: Level): boolean;
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function jsonLogger(
  min: Level = "info",
  write: (line: string) => void = (l) => process.stdout.write(l + "\n"),
  base: Fields = {},
): Logger {
  return {
    log(level, msg, fields) {
      if (ORDER[level] < ORDER[min]) return;
      write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...base, ...fields }));
    },
    child(fields) {
      return jsonLogger(min, write, { ...base, ...fields });
    },
    enabled(level) {
      return ORDER[level] >= ORDER[min];
    },
  };
}

/** Collects entries in memory (tests). */
export function memoryLogger(): Logger & { entries: Array<Fields & { level: Level; msg: string }> } {
  const entries: Array<Fields & { level: Level; msg: string }> = [];
  const make = (base: Fields): Logger => ({
    log(level, msg, fields) {
      entries.push({ level, msg, ...base, ...fields });
    },
    child(fields) {
      return make({ ...base, ...fields });
    },
    enabled: () => true,
  });
  return Object.assign(make({}), { entries });
}
