// Shared by the xml*.test.ts files: feed input in given pieces, and summarize events as strings so
// runs over different chunkings can be compared with toEqual.

import { serialize, StreamReader, type ReaderLimits, type StreamEvent } from "../../src/xml/index.js";

export const LIMITS: ReaderLimits = { maxStanzaBytes: 4096, maxDepth: 16 };

export const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
  " xmlns:db='jabber:server:dialback' from='montague.example' to='capulet.example' version='1.0'>";

export const enc = new TextEncoder();

export function summarize(events: StreamEvent[]): string[] {
  return events.map((e) => {
    switch (e.type) {
      case "open":
        return `open ${e.name} ${JSON.stringify(e.attrs)}`;
      case "element":
        return `element ${serialize(e.element)}`;
      case "close":
        return e.attrs ? `close ${JSON.stringify(e.attrs)}` : "close";
      case "error":
        return `error ${e.error.condition}`;
    }
  });
}

/** Feeds `bytes` cut at the given offsets; returns all events and the reader. */
export function feedCuts(bytes: Uint8Array, cuts: number[], limits = LIMITS): StreamEvent[] {
  const reader = new StreamReader(limits);
  const out: StreamEvent[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...reader.feed(bytes.subarray(from, cut)));
    from = cut;
  }
  return out;
}

/** Feeds in pieces of `size` bytes. */
export function feedSized(input: string | Uint8Array, size: number, limits = LIMITS): StreamEvent[] {
  const bytes = typeof input === "string" ? enc.encode(input) : input;
  const cuts: number[] = [];
  for (let i = size; i < bytes.length; i += size) cuts.push(i);
  return feedCuts(bytes, cuts, limits);
}

/** The whole input in one piece, summarized. */
export function read(input: string, limits = LIMITS): string[] {
  return summarize(feedSized(input, Number.MAX_SAFE_INTEGER, limits));
}

/** The condition of the error event, or undefined when the input was accepted. */
export function errorOf(input: string, limits = LIMITS): string | undefined {
  const events = feedSized(input, Number.MAX_SAFE_INTEGER, limits);
  const last = events[events.length - 1];
  return last?.type === "error" ? last.error.condition : undefined;
}

/** The element of an element event; fails the test for anything else. */
export function elementOf(event: StreamEvent | undefined) {
  if (event?.type !== "element") throw new Error(`expected an element event, got ${event ? summarize([event]) : "nothing"}`);
  return event.element;
}
