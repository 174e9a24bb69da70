// Byte chunks joined into one array: a socket's writes of one step (durable-objects/lib/tcp-link.ts),
// a request body read in chunks (worker/admin/body.ts), the XML reader's held-back bytes and the
// chunk after them (src/xml/stream-reader.ts).

/** `parts` one after the other in a new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
