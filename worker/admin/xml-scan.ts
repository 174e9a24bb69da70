// Finds where the first complete top-level element ends in buffered stream text, so the peer probe
// (peer-check.ts) can hand exactly one element to ltx. Deliberately small: the probe reads a header,
// features and a few dialback elements from a peer, never stanzas.

/** Length of the first complete element at the start of `s`, or 0. Counts open/close tags by name. */
export function completeElementEnd(s: string): number {
  if (!s.startsWith("<")) return 0;
  let depth = 0;
  const re = /<(\/?)([^\s/>!?]+)[^>]*?(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    if (!m[2]) continue;
    if (m[1]) depth--;
    else if (!m[3]) depth++;
    if (depth === 0) return re.lastIndex;
  }
  return 0;
}

