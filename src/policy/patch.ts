// RFC 7396 JSON Merge Patch, the semantics of PATCH /admin/v1/policy: objects merge key by key,
// `null` deletes a key (so `{"domains": {"evil.example": null}}` removes one rule), anything else
// replaces. The result is validated again as a whole document by the caller. Results have a null
// prototype, so a `__proto__` key in a patch stays a key (which parsePolicy refuses by name) and can
// never become the prototype of what is merged.

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = Object.assign(Object.create(null), isObject(target) ? target : {});
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(Object.hasOwn(out, k) ? out[k] : undefined, v);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
