// Where a UTF-8 byte sequence goes wrong. A fatal TextDecoder says only that a chunk is invalid, not
// where; the reader needs the place, so that what precedes it in the chunk is read exactly as it
// would have been in smaller chunks (the stream error comes at the same byte whatever the chunking).
// Only the failure path uses this: valid input never pays for a second pass.

/**
 * Index of the byte at which a streaming UTF-8 decoder (WHATWG Encoding §4.1, the algorithm
 * TextDecoder implements) fails, or -1. A sequence cut short by the end of `bytes` is not a failure.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let need = 0;
  let lower = 0x80;
  let upper = 0xbf;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (need === 0) {
      if (b <= 0x7f) continue;
      if (b >= 0xc2 && b <= 0xdf) need = 1;
      else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) lower = 0xa0; // no overlong forms
        if (b === 0xed) upper = 0x9f; // no surrogates
        need = 2;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f; // nothing above U+10FFFF
        need = 3;
      } else return i;
      continue;
    }
    if (b < lower || b > upper) return i;
    lower = 0x80;
    upper = 0xbf;
    need--;
  }
  return -1;
}

/**
 * The bytes at the end of `bytes` that start a character not yet complete (at most 3), given that
 * everything before them decoded; they are what a streaming decoder holds back.
 */
export function incompleteTail(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  for (let k = 1; k <= Math.min(3, n); k++) {
    const b = bytes[n - k]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return len > k ? bytes.slice(n - k) : EMPTY;
  }
  return EMPTY;
}

const EMPTY = new Uint8Array(0);
