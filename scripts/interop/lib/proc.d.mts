// Types for proc.mjs.

export interface StartedProcess {
  pid: number;
  exited: Promise<number | string | null>;
  readonly running: boolean;
  /** SIGTERM to the process group, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export function startProcess(cmd: string, args: string[], opts?: { logFile?: string; env?: NodeJS.ProcessEnv; cwd?: string }): StartedProcess;
export function waitForPort(host: string, port: number, opts?: { timeoutMs?: number; proc?: StartedProcess }): Promise<void>;
export function run(cmd: string, args: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string }): Promise<string>;
