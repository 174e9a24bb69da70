// RFC 7396 JSON Merge Patch, the semantics of PATCH /admin/v1/policy: objects merge key by key,
// `null` deletes a key (so `{"domains": {"evil.example": null}}` removes one rule), anything else
// replaces. The result is validated again as a whole document by the caller.

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
