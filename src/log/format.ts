// Structured log lines (issue 13 "Logs and metrics"): one JSON object per line, so Workers Logs and
// `wrangler tail` index its fields. Pure formatting; the shells write with console (durable-objects/lib/log.ts).

/** Severity, lowest first (LOG_LEVEL picks the lowest written; default info). */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_LOG_LEVEL: LogLevel = "info";

/** LOG_LEVEL as written by an operator: unset or empty is the default; anything else undefined. */
export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  if (value === undefined || value.trim() === "") return DEFAULT_LOG_LEVEL;
  const v = value.trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : undefined;
}

/** Whether a line at `level` is written under the threshold `min`. */
export const levelEnabled = (min: LogLevel, level: LogLevel): boolean => LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(min);

export type LogFields = Record<string, unknown>;

/**
 * One line: `{"ts":"<ISO 8601>","level":"info","event":"stream.opened",...fields}`. Fields that are
 * undefined are left out; an Error becomes its one-line message (never its stack).
 */
export function formatLogLine(level: LogLevel, event: string, fields: LogFields = {}, now: number = Date.now()): string {
  const line: LogFields = { ts: new Date(now).toISOString(), level, event };
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || k === "ts" || k === "level" || k === "event") continue;
    line[k] = v instanceof Error ? errorMessage(v) : v;
  }
  return JSON.stringify(line, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

/**
 * An error as one line: "Name: message" for errors other than plain Error, the message alone
 * otherwise, the first line only. Stacks are for bugs, not for a peer that went away.
 */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const first = (err.message || "").split("\n")[0]!.trim();
    return err.name && err.name !== "Error" ? `${err.name}: ${first}` : first || err.name;
  }
  return String(err).split("\n")[0]!;
}
