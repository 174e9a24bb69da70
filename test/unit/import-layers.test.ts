// The layering rule of the developer guide (README "Layout"): imports run one way,
// src/ <- durable-objects/ <- worker/, and gateway/ shares only src/. The core stays I/O free and
// testable alone; the shells stay thin; the gateway can be built and shipped without the Worker.
// This scans every import / export-from / dynamic import of the four trees (type-only imports
// count too: a type import of a later layer is the same coupling) and fails on a wrong-way import
// or on any import cycle among these modules.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const LAYERS = ["src", "durable-objects", "worker", "gateway"] as const;
type Layer = (typeof LAYERS)[number];

/** Which layers each layer may import (besides packages and node: builtins). */
const ALLOWED: Record<Layer, readonly Layer[]> = {
  src: ["src"],
  "durable-objects": ["src", "durable-objects"],
  worker: ["src", "durable-objects", "worker"],
  gateway: ["src", "gateway"],
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Module specifiers of static imports, `export ... from`, and `import("...")`, comments stripped. */
export function specifiers(code: string): string[] {
  const text = code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: string[] = [];
  const patterns = [
    /\bimport\s+(?:type\s+)?[^'"();]*?\bfrom\s*["']([^"']+)["']/g,
    /\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s*from\s*["']([^"']+)["']/g,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) found.push(m[1]!);
  return found;
}

/**
 * Files wrangler bundles as data, not code: the globs of wrangler.toml's `[[rules]]` of type Text,
 * Data or CompiledWasm (e.g. the admin console's sources, served as text). Importing one is reading
 * a string, so it is outside the layering.
 */
function dataGlobs(): RegExp[] {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const out: RegExp[] = [];
  for (const rule of toml.split(/^\[\[rules\]\]\s*$/m).slice(1)) {
    const body = rule.split(/^\[/m)[0]!;
    if (!/^type\s*=\s*"(Text|Data|CompiledWasm)"/m.test(body)) continue;
    const globs = /^globs\s*=\s*\[([^\]]*)\]/m.exec(body)?.[1] ?? "";
    for (const g of globs.matchAll(/"([^"]+)"/g)) {
      const re = g[1]!
        .split("**/")
        .map((part) => part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]"))
        .join("(?:.*/)?");
      out.push(new RegExp(`^${re}$`));
    }
  }
  return out;
}
const DATA = dataGlobs();
const isData = (file: string) => DATA.some((re) => re.test(relative(ROOT, file).split(/[\\/]/).join("/")));

const layerOf = (file: string): Layer | undefined => LAYERS.find((l) => relative(ROOT, file).split(/[\\/]/)[0] === l);

/** `./x.js` written for `./x.ts` (TypeScript's ESM convention) resolved to the file on disk. */
function resolveRelative(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  for (const c of [base, base.replace(/\.js$/, ".ts"), base.replace(/\.mjs$/, ".mts"), `${base}.ts`, join(base, "index.ts")]) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {
      /* next candidate */
    }
  }
  return base;
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const layer of LAYERS) {
    for (const file of sourceFiles(join(ROOT, layer))) {
      const deps = specifiers(readFileSync(file, "utf8"))
        .filter((s) => s.startsWith("."))
        .map((s) => resolveRelative(file, s))
        .filter((d) => !isData(d));
      g.set(file, deps);
    }
  }
  return g;
}

/** Every strongly connected component of more than one module (or a self-import): Tarjan's algorithm. */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) out.push(comp.map((f) => relative(ROOT, f)).sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe("import layering: src/ <- durable-objects/ <- worker/, gateway/ <- src/ only", () => {
  const g = graph();

  it("the scan sees the modules and their imports (a parser that finds nothing would pass anything)", () => {
    expect(g.size).toBeGreaterThan(100);
    const session = [...g.entries()].find(([f]) => relative(ROOT, f) === join("durable-objects", "stream-session.ts"));
    expect(session?.[1].some((d) => relative(ROOT, d).startsWith("src"))).toBe(true);
  });

  it("no module imports a layer it may not", () => {
    const violations: string[] = [];
    for (const [file, deps] of g) {
      const from = layerOf(file)!;
      for (const d of deps) {
        const to = layerOf(d);
        if (relative(ROOT, d) === "package.json") continue; // data (the version string), not code
        if (to === undefined) {
          violations.push(`${relative(ROOT, file)} -> ${relative(ROOT, d)} (outside src/, durable-objects/, worker/, gateway/)`);
        } else if (!ALLOWED[from].includes(to)) {
          violations.push(`${relative(ROOT, file)} -> ${relative(ROOT, d)} (${from}/ may import only ${ALLOWED[from].join("/, ")}/)`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it("there is no import cycle", () => {
    expect(cycles(g)).toEqual([]);
  });

  it("files wrangler.toml bundles as text (the console's sources) are data, not a layer; code is not", () => {
    expect(isData(join(ROOT, "console", "main.console.js"))).toBe(true);
    expect(isData(join(ROOT, "console", "index.html"))).toBe(true);
    expect(isData(join(ROOT, "worker", "index.ts"))).toBe(false);
    expect(isData(join(ROOT, "durable-objects", "env.ts"))).toBe(false);
  });

  it("the checks catch what they are for: a wrong-way import and a two-module cycle", () => {
    const a = join(ROOT, "durable-objects", "a.ts");
    const b = join(ROOT, "worker", "b.ts");
    const c = join(ROOT, "src", "c.ts");
    expect(cycles(new Map([[a, [c]], [c, [a]], [b, [a]]]))).toEqual([["durable-objects/a.ts", "src/c.ts"]]);
    expect(ALLOWED[layerOf(a)!].includes(layerOf(b)!)).toBe(false);
    expect(specifiers(`import type { Env } from "../worker/env.js";\nexport { x } from "./y.js";\nawait import("./z.js");\n// import "./no.js"`)).toEqual([
      "../worker/env.js",
      "./y.js",
      "./z.js",
    ]);
  });
});
