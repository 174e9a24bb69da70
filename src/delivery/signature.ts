// Webhook signatures in the Standard Webhooks format (https://www.standardwebhooks.com, spec
// "Verifying webhook authenticity"), so receivers can verify with the existing libraries
// (`standardwebhooks` for JavaScript, Python, Go, ...). Every signed POST carries:
//
//   webhook-id:        msg_<...>, the same for every attempt at delivering one stanza
//   webhook-timestamp: <unix seconds of this attempt>
//   webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>
//
// The key is DELIVERY_WEBHOOK_SECRET: with the spec's `whsec_` prefix the rest is base64 and decodes
// to the key bytes (what the libraries generate and expect); without it, the secret's UTF-8 bytes.
// Receivers refuse a timestamp more than a few minutes off and compare in constant time.

export const WEBHOOK_ID_HEADER = "webhook-id";
export const WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp";
export const WEBHOOK_SIGNATURE_HEADER = "webhook-signature";

const enc = new TextEncoder();
const SECRET_PREFIX = "whsec_";

/** The HMAC key bytes of a secret: `whsec_<base64>` decoded, else the text's UTF-8 bytes. */
export function webhookKey(secret: string): Uint8Array {
  if (!secret.startsWith(SECRET_PREFIX)) return enc.encode(secret);
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error("DELIVERY_WEBHOOK_SECRET: the part after whsec_ is not base64");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

const base64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));

async function mac(secret: string, text: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", webhookKey(secret) as BufferSource, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(text)));
}

/** A new message id (`msg_` + 32 hex), for one stanza's delivery and all its retries. */
export function newWebhookId(): string {
  return `msg_${crypto.randomUUID().replaceAll("-", "")}`;
}

/**
 * A message id derived from where the stanza is kept (the session's queue and row, its place in the
 * row): the same again when a crash makes the queue deliver that row a second time, so a receiver
 * de-duplicating by webhook-id (as the spec suggests) drops the repeat.
 */
export async function webhookIdFor(where: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(where)));
  return `msg_${[...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The three headers for `body`, message `id`, sent at `nowMs`. */
export async function signWebhook(secret: string, id: string, body: string, nowMs: number): Promise<Record<string, string>> {
  const t = Math.floor(nowMs / 1000);
  return {
    [WEBHOOK_ID_HEADER]: id,
    [WEBHOOK_TIMESTAMP_HEADER]: String(t),
    [WEBHOOK_SIGNATURE_HEADER]: `v1,${base64(await mac(secret, `${id}.${t}.${body}`))}`,
  };
}

/**
 * What a receiver does (the spec's verification; exported for reference): the timestamp within
 * `toleranceS` of now, and one of the space-separated `v1,<sig>` entries equal, in constant time.
 */
export async function verifyWebhook(
  secret: string,
  headers: Record<string, string | undefined>,
  body: string,
  nowMs: number,
  toleranceS = 300,
): Promise<boolean> {
  const id = headers[WEBHOOK_ID_HEADER];
  const ts = headers[WEBHOOK_TIMESTAMP_HEADER];
  const sigs = headers[WEBHOOK_SIGNATURE_HEADER];
  if (!id || !ts || !sigs || !/^\d+$/.test(ts)) return false;
  if (Math.abs(nowMs / 1000 - Number(ts)) > toleranceS) return false;
  const expected = base64(await mac(secret, `${id}.${ts}.${body}`));
  let ok = false;
  for (const entry of sigs.split(" ")) {
    const [version, sig] = entry.split(",", 2);
    if (version !== "v1" || sig === undefined || sig.length !== expected.length) continue;
    let diff = 0;
    for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ sig.charCodeAt(i);
    ok ||= diff === 0;
  }
  return ok;
}
