// The console's only way to the edge: /admin/v1 with the admin token from sessionStorage (per tab,
// gone when the tab closes). The token goes in the Authorization header only: never in a URL, never
// logged. A 401 signs the console out.

const KEY = "dialback-edge.admin-token";

export const auth = {
  token: () => sessionStorage.getItem(KEY),
  signIn: (t) => sessionStorage.setItem(KEY, t),
  signOut: () => sessionStorage.removeItem(KEY),
  onUnauthorized: () => {},
};

export class ApiError extends Error {
  constructor(status, body) {
    super(typeof body === "object" && body ? `${status} ${body.title ?? ""}` : `${status}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * Calls /admin/v1`path`. Resolves { status, etag, body } (JSON parsed, text for text/plain), or
 * rejects with ApiError for a status >= 400 unless `accept` lists it.
 */
export async function api(path, { method = "GET", body, headers = {}, token = auth.token(), accept = [] } = {}) {
  const h = { accept: "application/json, application/problem+json, text/plain", ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h["content-type"] = "application/json";
  const res = await fetch(`/admin/v1${path}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  const type = res.headers.get("content-type") ?? "";
  const text = await res.text();
  let parsed = text;
  if (type.includes("json") && text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (res.status === 401 && token === auth.token()) auth.onUnauthorized();
  if (res.status >= 400 && !accept.includes(res.status)) throw new ApiError(res.status, parsed);
  return { status: res.status, etag: res.headers.get("etag"), body: parsed };
}

/** GET / (public): the edge's name, version and hosted domains. */
export async function edgeInfo() {
  const res = await fetch("/", { cache: "no-store", credentials: "omit", headers: { accept: "application/json" } });
  return res.json();
}

/** Every page of a paged admin list (items + nextCursor), up to `max` items. */
export async function all(path, max = 2000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const r = await api(`${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
  } while (cursor && items.length < max);
  return items;
}

export const enc = encodeURIComponent;
