// How the harness puts XMPP on a transport: RFC 6120 TCP (a stream header, elements, a closing tag)
// or RFC 7395 / XEP-0468 framing (one element per message, <open/> and <close/>, every element
// carrying its own namespace declarations because each message is a standalone document).

import { Element, parse } from "ltx";
import type { Socket } from "node:net";
import { TLSSocket, type SecureContext } from "node:tls";
import { XmlStream, type StreamEvent } from "./xml-stream.js";

export const NS_SERVER = "jabber:server";
export const NS_DB = "jabber:server:dialback";
export const NS_STREAM = "http://etherx.jabber.org/streams";
export const NS_FRAMING_SERVER = "urn:ietf:params:xml:ns:xmpp-framing-server";

export interface Wire {
  readonly framed: boolean;
  /** RFC 6120 §5.4.3.3 as the receiving server: TLS over the TCP socket, then a fresh stream. */
  startTlsServer?(ctx: SecureContext): void;
  open(attrs: Record<string, string>): void;
  send(el: Element): void;
  close(): void;
  /** Drop the transport without a closing tag (a crash / network loss). */
  destroy(): void;
  onEvent(fn: (e: StreamEvent) => void): void;
  onEnd(fn: () => void): void;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/'/g, "&apos;").replace(/"/g, "&quot;");
const attrText = (attrs: Record<string, string>) => Object.entries(attrs).map(([k, v]) => ` ${k}='${esc(v)}'`).join("");

export function tcpWire(raw: Socket): Wire {
  let handler: (e: StreamEvent) => void = () => {};
  let endHandler = () => {};
  let xml = new XmlStream((e) => handler(e));
  let socket: Socket = raw;
  const attach = (s: Socket) => {
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      try {
        xml.write(d);
      } catch {
        s.destroy();
      }
    });
    s.on("close", () => endHandler());
    s.on("error", () => {});
  };
  attach(raw);
  return {
    framed: false,
    startTlsServer(ctx) {
      raw.removeAllListeners("data");
      raw.removeAllListeners("close");
      xml = new XmlStream((e) => handler(e));
      socket = new TLSSocket(raw, { isServer: true, secureContext: ctx });
      attach(socket);
    },
    open(attrs) {
      socket.write(`<?xml version='1.0'?><stream:stream xmlns='${NS_SERVER}' xmlns:stream='${NS_STREAM}' xmlns:db='${NS_DB}'${attrText(attrs)}>`);
    },
    send(el) {
      if (!socket.destroyed) socket.write(el.toString());
    },
    close() {
      if (!socket.destroyed) socket.end("</stream:stream>");
    },
    destroy() {
      socket.destroy();
    },
    onEvent(fn) {
      handler = fn;
    },
    onEnd(fn) {
      endHandler = fn;
    },
  };
}

/** A framed wire over any message transport (a length-prefixed TCP pipe or a real WebSocket). */
export function framedWire(sendText: (t: string) => void, closeTransport: () => void): Wire & { receive(t: string): void; ended(): void } {
  let handler: (e: StreamEvent) => void = () => {};
  let endHandler = () => {};
  let done = false;
  return {
    framed: true,
    open(attrs) {
      sendText(`<open xmlns='${NS_FRAMING_SERVER}'${attrText(attrs)}/>`);
    },
    send(el) {
      if (done) return;
      // Standalone message: declare what the element's prefix or default namespace needs.
      const copy = parse(el.toString()) as Element;
      if (copy.name.startsWith("db:")) copy.attrs["xmlns:db"] = NS_DB;
      else if (copy.name.startsWith("stream:")) copy.attrs["xmlns:stream"] = NS_STREAM;
      else if (!copy.attrs.xmlns) copy.attrs.xmlns = NS_SERVER;
      sendText(copy.toString());
    },
    close() {
      if (done) return;
      sendText(`<close xmlns='${NS_FRAMING_SERVER}'/>`);
    },
    destroy() {
      done = true;
      closeTransport();
    },
    onEvent(fn) {
      handler = fn;
    },
    onEnd(fn) {
      endHandler = fn;
    },
    receive(t) {
      const el = parse(t) as Element;
      if (el.name === "open" && el.attrs.xmlns === NS_FRAMING_SERVER) handler({ type: "open", attrs: el.attrs });
      else if (el.name === "close" && el.attrs.xmlns === NS_FRAMING_SERVER) handler({ type: "close" });
      else handler({ type: "element", el });
    },
    ended() {
      if (!done) {
        done = true;
        endHandler();
      }
    },
  };
}
