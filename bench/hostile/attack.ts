// The shape of one attack in the hostile bench, and small tools the attacks share.
//
// An attack starts, ramps up (`ready`), keeps going while the legitimate peer is measured, and on
// `stop()` tears down everything it opened and returns what it observed (how the edge and the gateway
// answered). Every attack is bounded in count and time, and stops by itself at `deadline` at the
// latest even if nobody calls stop().

import type { HostileStack } from "./stack.js";

export interface Running {
  /** Resolves once the attack is at full strength (bounded by the runner too). */
  ready: Promise<void>;
  /** Connections the attacker holds open right now. */
  held(): number;
  /** Stops, closes everything, and describes what the attacker saw. */
  stop(): Promise<string>;
}

export interface Attack {
  n: number;
  name: string;
  /** How long the ramp may take before the legitimate peer is measured (default 30 s). */
  readyMaxMs?: number;
  start(stack: HostileStack): Promise<Running>;
}

/** Hard upper bound on any one attack's life. */
export const ATTACK_MAX_MS = 90_000;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** "a×3 b×1": counts of each label, in first-seen order. */
export class Tally {
  readonly #m = new Map<string, number>();
  add(label: string, n = 1): void {
    this.#m.set(label, (this.#m.get(label) ?? 0) + n);
  }
  get(label: string): number {
    return this.#m.get(label) ?? 0;
  }
  toString(): string {
    return this.#m.size === 0 ? "none" : [...this.#m].map(([k, v]) => `${k}×${v}`).join(" ");
  }
}

/** Runs `fn` on up to `width` items at a time. */
export async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** The dialback answers in `text`: "valid", "invalid", "error:<condition>" for each db:result answer. */
export function dialbackAnswers(text: string, element: "result" | "verify" = "result"): string[] {
  const out: string[] = [];
  const re = new RegExp(`<(?:db:)?${element}\\b([^>]*?)(/>|>([\\s\\S]*?)</(?:db:)?${element}>)`, "g");
  for (const m of text.matchAll(re)) {
    const type = /\btype=['"](\w+)['"]/.exec(m[1] ?? "")?.[1];
    if (!type) continue;
    const cond = /<([a-z-]+)[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]/.exec(m[3] ?? "")?.[1];
    out.push(type === "error" ? `error:${cond ?? "?"}` : type);
  }
  return out;
}

export const randomKey = () => [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");

/** Attack 0, the control: no attack at all. Its ratios are the noise of the shared machine. */
export const control: Attack = {
  n: 0,
  name: "control: no attack (the noise floor of this machine right now)",
  async start(): Promise<Running> {
    return { ready: sleep(500), held: () => 0, stop: async () => "nothing sent" };
  },
};
