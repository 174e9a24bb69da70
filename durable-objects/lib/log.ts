// Writes the edge's structured log lines (src/log/format.ts) to the console: Workers Logs and
// `wrangler tail` in production, the terminal under `npm start`. LOG_LEVEL (debug|info|warn|error,
// default info) sets the lowest level written; a bad value is a ConfigError (src/config.ts) and
// logs at info meanwhile.

import { formatLogLine, levelEnabled, parseLogLevel, type LogFields, type LogLevel } from "../../src/log/format.js";
import { actionLogEvent } from "../../src/log/events.js";
import type { ShellAction } from "../../src/engine/index.js";

export type { LogFields, LogLevel };

export interface LogSettings {
  LOG_LEVEL?: string | undefined;
}

/** One structured line at `level`, if LOG_LEVEL lets it through. */
export function log(env: LogSettings | undefined, level: LogLevel, event: string, fields: LogFields = {}): void {
  const min = parseLogLevel(env?.LOG_LEVEL) ?? "info";
  if (!levelEnabled(min, level)) return;
  const line = formatLogLine(level, event, fields);
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/**
 * A stream's log: its session id on every line, and the dialback verdict's latency measured from
 * the pair's claim (pending) in this instance (none after hibernation: the line says so by its absence).
 */
export class StreamLog {
  readonly #claimed = new Map<string, number>();

  constructor(
    private readonly env: LogSettings | undefined,
    readonly session: string,
  ) {}

  opened(fields: LogFields): void {
    log(this.env, "info", "stream.opened", { session: this.session, ...fields });
  }

  /** Logs the action; returns the verdict's latency (ms from the claim) when this instance knows it. */
  action(a: ShellAction, extra?: LogFields): number | undefined {
    let latencyMs: number | undefined;
    if (a.type === "pair-state") {
      const key = `${a.direction} ${a.local} ${a.remote}`;
      if (a.state === "pending") this.#claimed.set(key, Date.now());
      else if (this.#claimed.has(key)) {
        latencyMs = Date.now() - this.#claimed.get(key)!;
        this.#claimed.delete(key);
      }
    }
    const e = actionLogEvent(a, this.session, latencyMs);
    if (e) log(this.env, e.level, e.event, { ...e.fields, ...extra });
    return latencyMs;
  }
}
