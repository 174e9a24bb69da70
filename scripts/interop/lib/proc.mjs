// Process helpers for the interop peers: spawn in a new process group, wait for a TCP port, and stop
// by PID (the group we created), never by name, and never anything we did not start.

import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Starts `cmd args` detached in its own process group, output appended to `logFile`.
 * Returns { pid, exited: Promise<number|null>, stop() }.
 */
export function startProcess(cmd, args, { logFile, env = process.env, cwd } = {}) {
  const log = logFile ? createWriteStream(logFile, { flags: "a" }) : null;
  const child = spawn(cmd, args, { detached: true, env, cwd, stdio: ["ignore", "pipe", "pipe"] });
  if (log) {
    log.on("error", () => {});
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
  } else {
    child.stdout.resume();
    child.stderr.resume();
  }
  let exitCode;
  live.add(child.pid);
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => {
    live.delete(child.pid);
    resolve((exitCode = code ?? signal));
  }));
  child.on("error", () => {});
  return {
    pid: child.pid,
    exited,
    get running() { return exitCode === undefined; },
    /** SIGTERM to our process group, then SIGKILL after `graceMs`. */
    async stop(graceMs = 5000) {
      if (exitCode !== undefined) return;
      killGroup(child.pid, "SIGTERM");
      const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) killGroup(child.pid, "SIGKILL");
      await exited;
      // Children that outlive the leader (e.g. beam under a shell) are in the same group.
      killGroup(child.pid, "SIGKILL");
    },
  };
}

// Process groups we started and that are still running: if this process exits without stopping them
// (a crash, Ctrl-C), they are killed so no peer outlives its test run.
const live = new Set();
process.on("exit", () => {
  for (const pid of live) killGroup(pid, "SIGKILL");
});

function killGroup(pid, signal) {
  try { process.kill(-pid, signal); } catch { /* already gone */ }
}

/** Resolves when host:port accepts a TCP connection; rejects after `timeoutMs` or if `proc` exits. */
export async function waitForPort(host, port, { timeoutMs = 30_000, proc } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && !proc.running) throw new Error(`process ${proc.pid} exited before ${host}:${port} opened`);
    const ok = await new Promise((resolve) => {
      const s = connect({ host, port });
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${host}:${port}`);
    await sleep(100);
  }
}

/** Runs a command to completion; rejects with its output on a non-zero exit. */
export function run(cmd, args, { env = process.env, cwd, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${out}`))));
    child.stdin.end(input ?? "");
  });
}
