// Prosody's admin console (mod_admin_telnet, loopback only) as a benchmark driver: one Lua line makes
// a real Prosody send stanzas from any number of its virtual hosts at once, with no client logins.
// Lines starting with ">" run in Prosody's global environment (mod_admin_shell).

import { connect } from "node:net";

export class ProsodyConsole {
  #socket;
  #buffer = "";
  #waiter = null;

  static async open(host, port) {
    const c = new ProsodyConsole();
    c.#socket = connect({ host, port });
    c.#socket.setEncoding("utf8");
    c.#socket.on("data", (d) => {
      c.#buffer += d;
      c.#waiter?.();
    });
    await new Promise((resolve, reject) => {
      c.#socket.once("connect", resolve);
      c.#socket.once("error", reject);
    });
    c.#socket.on("error", () => {});
    return c;
  }

  /** Runs one Lua chunk (one line) in Prosody's global environment; resolves with what it returned. */
  async lua(code, timeoutMs = 60_000) {
    const marker = `done-${Math.random().toString(36).slice(2)}`;
    this.#buffer = "";
    this.#socket.write(`>${code.replace(/\n/g, " ")}; return "${marker}"\n`);
    const deadline = Date.now() + timeoutMs;
    while (!this.#buffer.includes(marker)) {
      if (/\| (Error|Fatal)|Sorry, I couldn't/i.test(this.#buffer)) throw new Error(`prosody console: ${this.#buffer}`);
      if (Date.now() > deadline) throw new Error(`prosody console: no answer to ${code}: ${this.#buffer}`);
      await new Promise((r) => {
        this.#waiter = r;
        setTimeout(r, 100);
      });
    }
    return this.#buffer;
  }

  /** Sends a chat message from user@<host> to `to` for every host, in one Lua loop. */
  sendFrom(hosts, to, body) {
    const list = hosts.map((h) => JSON.stringify(h)).join(",");
    return this.lua(`local st = require "util.stanza"; for i, h in ipairs({${list}}) do ` +
      `prosody.core_post_stanza(prosody.hosts[h], st.message({ from = "user@" .. h, to = ${JSON.stringify(to)}, type = "chat", id = "fan" .. i })` +
      `:tag("body"):text(${JSON.stringify(body)} .. " " .. h):up()) end`);
  }

  close() {
    this.#socket.end("quit\n");
    this.#socket.destroy();
  }
}
