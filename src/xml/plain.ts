// Tells the lexer whether a run of text or an attribute value can be used as is (no reference, no
// line end or whitespace to normalize, nothing forbidden), without a regex call per value. The
// position of the next interesting character is remembered per chunk, so each is searched for once
// per occurrence, not once per value (a fresh indexOf would scan to the chunk's end every time).

export class PlainScanner {
  #s = "";
  #amp = -1;
  #cr = -1;
  #cdEnd = -1;
  #lt = -1;
  #lf = -1;
  #tab = -1;

  /** A new chunk. */
  reset(s: string): void {
    this.#s = s;
    this.#amp = this.#cr = this.#cdEnd = this.#lt = this.#lf = this.#tab = -1;
  }

  /** s[from, to) is character data with no '&', CR or ']]>' (XML 1.0 §2.4, §2.11). */
  text(from: number, to: number): boolean {
    const s = this.#s;
    if (this.#amp < from) this.#amp = indexOrEnd(s, "&", from);
    if (this.#amp < to) return false;
    if (this.#cr < from) this.#cr = indexOrEnd(s, "\r", from);
    if (this.#cr < to) return false;
    if (this.#cdEnd < from) this.#cdEnd = indexOrEnd(s, "]]>", from);
    return this.#cdEnd >= to - 2;
  }

  /** s[from, to) is an attribute value with no '&', '<', TAB, LF or CR (XML 1.0 §3.1, §3.3.3). */
  attr(from: number, to: number): boolean {
    const s = this.#s;
    if (this.#amp < from) this.#amp = indexOrEnd(s, "&", from);
    if (this.#amp < to) return false;
    if (this.#lt < from) this.#lt = indexOrEnd(s, "<", from);
    if (this.#lt < to) return false;
    if (this.#lf < from) this.#lf = indexOrEnd(s, "\n", from);
    if (this.#lf < to) return false;
    if (this.#cr < from) this.#cr = indexOrEnd(s, "\r", from);
    if (this.#cr < to) return false;
    if (this.#tab < from) this.#tab = indexOrEnd(s, "\t", from);
    return this.#tab >= to;
  }
}

function indexOrEnd(s: string, what: string, from: number): number {
  const i = s.indexOf(what, from);
  return i === -1 ? s.length : i;
}
