// A minimal XMPP client (RFC 6120 c2s, plaintext on loopback, SASL PLAIN, resource binding) used to
// drive the peer servers in tests: log a user in, send a message, wait for one to arrive.

import { connect } from "node:net";
import { Parser, xml } from "@xmpp/xml";

const NS_CLIENT = "jabber:client";

export class C2sClient {
  #socket;
  #parser;
  #waiters = [];
  /** Every stanza received after login, in order. */
  received = [];
  jid = "";

  /** Logs `user@domain` in on host:port; resolves once the session is bound and available. */
  static async login({ host, port, jid, password, resource = "interop" }) {
    const c = new C2sClient();
    await c.#login(host, port, jid, password, resource);
    return c;
  }

  async #login(host, port, jid, password, resource) {
    const [user, domain] = jid.split("@");
    this.#socket = connect({ host, port });
    this.#socket.setEncoding("utf8");
    await new Promise((resolve, reject) => {
      this.#socket.once("connect", resolve);
      this.#socket.once("error", reject);
    });
    this.#socket.on("error", () => {});
    this.#socket.on("data", (d) => this.#parser.write(d));
    this.#socket.on("close", () => this.#fail(new Error("connection closed")));

    let features = await this.#open(domain);
    const mechs = features.getChild("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl");
    if (!mechs?.getChildren("mechanism").some((m) => m.text() === "PLAIN")) {
      throw new Error(`server offers no SASL PLAIN: ${features}`);
    }
    const creds = Buffer.from(`\0${user}\0${password}`).toString("base64");
    this.#send(xml("auth", { xmlns: "urn:ietf:params:xml:ns:xmpp-sasl", mechanism: "PLAIN" }, creds));
    const result = await this.#next();
    if (result.name !== "success") throw new Error(`SASL failed for ${jid}: ${result}`);
    features = await this.#open(domain);
    this.#send(xml("iq", { type: "set", id: "bind" },
      xml("bind", { xmlns: "urn:ietf:params:xml:ns:xmpp-bind" }, xml("resource", {}, resource))));
    const bound = await this.#next((el) => el.is("iq") && el.attrs.id === "bind");
    if (bound.attrs.type !== "result") throw new Error(`bind failed: ${bound}`);
    this.jid = bound.getChild("bind").getChildText("jid");
    // RFC 3921 session establishment: optional in RFC 6121 but harmless; old servers want it.
    if (features.getChild("session", "urn:ietf:params:xml:ns:xmpp-session") &&
        !features.getChild("session", "urn:ietf:params:xml:ns:xmpp-session").getChild("optional")) {
      this.#send(xml("iq", { type: "set", id: "sess" }, xml("session", { xmlns: "urn:ietf:params:xml:ns:xmpp-session" })));
      await this.#next((el) => el.is("iq") && el.attrs.id === "sess");
    }
    this.#send(xml("presence", {}, xml("priority", {}, "1")));
  }

  /** Opens (or restarts) the stream and resolves with the server's features. */
  #open(domain) {
    this.#parser = new Parser();
    this.#parser.on("element", (el) => this.#onElement(el));
    this.#parser.on("end", () => this.#fail(new Error("stream closed")));
    this.#parser.on("error", (e) => this.#fail(e));
    this.#socket.write(`<?xml version='1.0'?><stream:stream xmlns='${NS_CLIENT}' ` +
      `xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`);
    return this.#next((el) => el.is("features", "http://etherx.jabber.org/streams"));
  }

  #onElement(el) {
    if (el.is("error", "http://etherx.jabber.org/streams")) return this.#fail(new Error(`stream error: ${el}`));
    const i = this.#waiters.findIndex((w) => w.match(el));
    if (i >= 0) {
      const [w] = this.#waiters.splice(i, 1);
      w.resolve(el);
    }
    this.received.push(el);
  }

  #fail(err) {
    this.closed = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  #send(el) {
    this.#socket.write(el.toString());
  }

  /** Waits for the next element (received from now on) matching `match`. */
  #next(match = () => true, timeoutMs = 15_000) {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(this.closed);
      const w = { match, resolve, reject };
      const t = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a stanza on ${this.jid}`));
      }, timeoutMs);
      w.resolve = (el) => { clearTimeout(t); resolve(el); };
      w.reject = (e) => { clearTimeout(t); reject(e); };
      this.#waiters.push(w);
    });
  }

  /** Sends a chat message. */
  sendMessage(to, body, { id = `m${Math.random().toString(36).slice(2)}`, type = "chat" } = {}) {
    this.#send(xml("message", { to, type, id }, xml("body", {}, body)));
    return id;
  }

  /** Sends a raw stanza (ltx element or string). */
  send(stanza) {
    this.#socket.write(String(stanza));
  }

  /** Writes `text` (any number of stanzas); resolves once the socket can take more (backpressure). */
  sendBulk(text) {
    if (this.#socket.write(text)) return Promise.resolve();
    return new Promise((resolve) => this.#socket.once("drain", resolve));
  }

  /**
   * Resolves with the first stanza matching `match`, whether it already arrived or arrives within
   * `timeoutMs`.
   */
  waitFor(match, timeoutMs = 20_000) {
    const seen = this.received.find(match);
    return seen ? Promise.resolve(seen) : this.#next(match, timeoutMs);
  }

  /** Waits for a message with the given body text. */
  waitForMessage(body, timeoutMs) {
    return this.waitFor((el) => el.is("message") && el.getChildText("body") === body, timeoutMs);
  }

  close() {
    if (this.#socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once("close", resolve);
      this.#socket.end("</stream:stream>");
      setTimeout(() => this.#socket.destroy(), 1000).unref();
    });
  }
}
