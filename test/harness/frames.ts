// Length-prefixed frames (4-byte big-endian length + UTF-8) for the pipe between a workerd test and
// the harness: each frame carries one RFC 7395 WebSocket message, so the harness speaks real
// XEP-0468 framing while the test relays it to the edge's /xmpp-s2s WebSocket. Runs in Node and workerd.

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeFrame(text: string): Uint8Array {
  const body = enc.encode(text);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

export class FrameDecoder {
  #buf = new Uint8Array(0);

  push(chunk: Uint8Array): string[] {
    const merged = new Uint8Array(this.#buf.length + chunk.length);
    merged.set(this.#buf);
    merged.set(chunk, this.#buf.length);
    const out: string[] = [];
    let off = 0;
    while (merged.length - off >= 4) {
      const len = new DataView(merged.buffer, merged.byteOffset + off).getUint32(0);
      if (merged.length - off - 4 < len) break;
      out.push(dec.decode(merged.subarray(off + 4, off + 4 + len)));
      off += 4 + len;
    }
    this.#buf = merged.slice(off);
    return out;
  }
}
