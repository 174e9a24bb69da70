// Whether `wrangler dev` runs its DevTools inspector, for `npm start` (EDGE_DEVTOOLS) and the interop
// harness (scripts/interop/lib/edge.mjs).
//
// Why off by default: wrangler dev's InspectorProxyWorker (in the proxy workerd it puts in front of the
// Worker) attaches to the Worker's inspector whether or not anyone opens DevTools. Every console line
// of the Worker is then serialised as a DevTools event in the isolate, posted to wrangler's node
// process and pushed on the proxy's `runtimeMessageBuffer`, which is drained only when a DevTools
// client attaches: under traffic with nobody debugging, the proxy grows without bound. Measured with
// the 200-domain fan-out of real Prosody vhosts (README, "Tests and benchmarks"): the edge's two info
// lines per pair cost 2-2.8 ms of CPU and ~200 KiB that is never freed in the proxy, and ~0.1 ms more
// per line in the Worker. Without the inspector the lines still reach the terminal (workerd's
// stdout, which wrangler prints), at none of that cost.
//
// How: wrangler 4 has no flag for it (its maintainers declined one: cloudflare/workers-sdk#1650); its
// dev server leaves the inspector off when VSCODE_INSPECTOR_OPTIONS is set (`inspectorEnabled` in
// wrangler-dist/cli.js: VS Code's JavaScript debug terminal brings its own), and so does miniflare.
// A value that is not VS Code's own (no bootloader in NODE_OPTIONS) has no other effect. In a real VS
// Code debug terminal the variable is already set and left alone.

export const INSPECTOR_OFF_VARIABLE = "VSCODE_INSPECTOR_OPTIONS";

/** `env` for wrangler dev with its DevTools inspector on (`devtools`) or off (the default). */
export function wranglerDevtoolsEnv(env, devtools) {
  if (devtools || env[INSPECTOR_OFF_VARIABLE]) return { ...env };
  return { ...env, [INSPECTOR_OFF_VARIABLE]: "dialback-edge:devtools-off" };
}
