// Types for delay-proxy.mjs.

export interface DelayProxy {
  host: string;
  port: number;
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

export function startDelayProxy(opts: { host: string; port: number; target: { host: string; port: number }; oneWayMs: number }): Promise<DelayProxy>;
