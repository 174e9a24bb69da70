// Opaque pagination cursors: base64url JSON of the last row's sort key. Opaque so clients cannot
// depend on the order's internals; validated on the way back in.

export function encodeCursor(key: readonly (string | number)[]): string {
  return btoa(JSON.stringify(key)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Returns undefined for anything that is not a cursor we made with `n` parts. */
export function decodeCursor(cursor: string, n: number): (string | number)[] | undefined {
  try {
    const json = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    const v: unknown = JSON.parse(json);
    if (Array.isArray(v) && v.length === n && v.every((x) => typeof x === "string" || typeof x === "number")) return v;
  } catch {
    /* fallthrough */
  }
  return undefined;
}
