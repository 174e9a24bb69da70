// The byte limit of one unit (the stream header, or one top-level element; RFC 6120 §13.12 and
// Limits.maxStanzaBytes), counted in bytes of UTF-8 as the peer sent them, and enforced at the
// exact byte that crosses it whatever the chunking.
//
// Counting non-ASCII text costs a pass over it, so it is done lazily: only for the part of a unit
// cut by a chunk end, or when 3 bytes per UTF-16 unit (the most there can be) could reach the limit.

import { StreamError } from "../errors.js";
import { utf8Length } from "./chars.js";

export class UnitBudget {
  #active = false;
  #pos = 0; // position in the current chunk up to which #bytes is counted
  #bytes = 0; // exact bytes of the unit before #pos

  constructor(private readonly max: number) {}

  get active(): boolean {
    return this.#active;
  }

  /** A unit starts at s[pos] of the current chunk. */
  start(pos: number): void {
    this.#active = true;
    this.#pos = pos;
    this.#bytes = 0;
  }

  stop(): void {
    this.#active = false;
  }

  /**
   * How far s may be read from `pos` (below `len`) without crossing the limit: exact for an ASCII
   * chunk, otherwise a safe underestimate refined as it is reached. Throws policy-violation when
   * not even the character at `pos` fits.
   */
  end(s: string, pos: number, len: number, ascii: boolean): number {
    const max = this.max;
    if (ascii) {
      const room = max - this.#bytes - (pos - this.#pos);
      if (room <= 0) throw tooLarge(max);
      return Math.min(len, pos + room);
    }
    if (this.#bytes + 3 * (len - this.#pos) <= max) return len;
    this.#bytes += utf8Length(s, this.#pos, pos);
    this.#pos = pos;
    const room = max - this.#bytes;
    if (room < utf8Length(s, pos, pos + 1)) throw tooLarge(max);
    return Math.min(len, pos + Math.max(1, Math.floor(room / 3)));
  }

  /** The chunk s is used up: carry the unit's bytes in it over to the next chunk. */
  chunkDone(s: string, ascii: boolean): void {
    if (!this.#active) return;
    this.#bytes += ascii ? s.length - this.#pos : utf8Length(s, this.#pos, s.length);
    this.#pos = 0;
  }
}

const tooLarge = (max: number) => new StreamError("policy-violation", `element larger than ${max} bytes`);
