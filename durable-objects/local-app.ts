// The default local application (singleton "local"): used when neither an APP service binding nor
// DELIVERY_WEBHOOK_URL is configured. Answers ping and disco#info on hosted domains (src/delivery/
// local-app.ts decides) and keeps the last INBOX_SIZE inbound stanzas for GET /api/v1/inbox.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env.js";
import { edgeConfig } from "./lib/config.js";
import { localApp, localAppFromHead } from "../src/delivery/local-app.js";
import { appStanzaElement, appStanzaFromXml, type AppStanza } from "../src/delivery/app-stanza.js";

export const INBOX_SIZE = 200;
/** How long the local app remembers the last queue row it stored per caller. */
export const DELIVERED_TTL_MS = 7 * 24 * 3600 * 1000;

export interface InboxItem {
  seq: number;
  receivedAt: string;
  from: string | null;
  to: string | null;
  kind: string;
  xml: string;
}

export class LocalApp extends DurableObject<Env> {
  #inserts = 0;
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL,
        from_jid TEXT, to_jid TEXT, kind TEXT NOT NULL, xml TEXT NOT NULL)`,
    );
    // Per calling delivery queue: the last of its rows stored (deliverMany's exactly-once).
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS delivered (source TEXT PRIMARY KEY, upto INTEGER NOT NULL, at INTEGER NOT NULL)");
  }

  /** Handles one verified inbound stanza; returns the replies to send back (serialized). */
  async deliver(xml: string): Promise<string[]> {
    const [replies = []] = await this.deliverMany([xml]);
    return replies;
  }

  /**
   * Many stanzas in one call (a burst from one stream); replies per stanza, in order. Messages and
   * presence are stored from their head alone (no parse), and all of them with one INSERT.
   *
   * Exactly once into the inbox: with `source` (the calling delivery queue) and each stanza's `row`, a
   * batch the caller delivers again (it crashed after this call, before deleting its rows) is not
   * stored twice; its replies are computed again (they are a pure function of the stanza) because
   * the first ones may never have been sent.
   */
  async deliverMany(items: (AppStanza | string)[], source?: string): Promise<string[][]> {
    const config = await edgeConfig(this.env);
    const sql = this.ctx.storage.sql;
    const seen = source === undefined ? -1 : (sql.exec<{ upto: number }>("SELECT upto FROM delivered WHERE source = ?", source).toArray()[0]?.upto ?? -1);
    let upTo = seen;
    const out: string[][] = [];
    const rows: [string | null, string | null, string, string][] = [];
    for (const it of items) {
      const item = typeof it === "string" ? appStanzaFromXml(it) : it;
      const r = localAppFromHead(item.name, item.type) ?? localApp(appStanzaElement(item), config.domains);
      const again = item.row !== undefined && item.row <= seen;
      if (r.store && !again) rows.push([item.from ?? null, item.to ?? null, item.name, item.xml]);
      if (item.row !== undefined && item.row > upTo) upTo = item.row;
      out.push(r.replies.map(String));
    }
    if (source !== undefined && upTo > seen) {
      sql.exec("INSERT INTO delivered (source, upto, at) VALUES (?, ?, ?) ON CONFLICT(source) DO UPDATE SET upto = excluded.upto, at = excluded.at", source, upTo, Date.now());
    }
    if (rows.length > 0) {
      sql.exec(
        `INSERT INTO inbox (received_at, from_jid, to_jid, kind, xml)
          SELECT ?, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3 FROM json_each(?) AS j`,
        Date.now(), JSON.stringify(rows),
      );
      this.#inserts += rows.length;
      if (this.#inserts >= 50) {
        this.#inserts = 0;
        sql.exec("DELETE FROM inbox WHERE seq <= (SELECT MAX(seq) FROM inbox) - ?", INBOX_SIZE);
        // Marks of sessions long gone (a retry comes within minutes, not days).
        sql.exec("DELETE FROM delivered WHERE at < ?", Date.now() - DELIVERED_TTL_MS);
      }
    }
    return out;
  }

  /** Newest first (the last INBOX_SIZE). */
  list(limit: number): InboxItem[] {
    limit = Math.min(limit, INBOX_SIZE);
    return this.ctx.storage.sql
      .exec<{ seq: number; received_at: number; from_jid: string | null; to_jid: string | null; kind: string; xml: string }>(
        "SELECT * FROM inbox ORDER BY seq DESC LIMIT ?", limit)
      .toArray()
      .map((r) => ({ seq: r.seq, receivedAt: new Date(r.received_at).toISOString(), from: r.from_jid, to: r.to_jid, kind: r.kind, xml: r.xml }));
  }
}
