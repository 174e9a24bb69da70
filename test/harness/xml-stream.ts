// Independent XML stream parsing for the harness (ltx's low-level SAX parser): a TCP stream yields
// the stream header, then one event per top-level element. Not the edge's src/xml: the harness must
// not share code with what it tests.

import { Element, Parser } from "ltx";

export type StreamEvent =
  | { type: "open"; attrs: Record<string, string> }
  | { type: "element"; el: Element }
  | { type: "close" };

export class XmlStream {
  #sax: { write(s: string): void; on(e: string, f: (...a: any[]) => void): void };
  #depth = 0;
  #el: Element | undefined;

  constructor(private readonly emit: (e: StreamEvent) => void) {
    this.#sax = new (Parser.prototype as any).DefaultParser();
    this.#sax.on("startElement", (name: string, attrs: Record<string, string>) => {
      if (this.#depth === 0) {
        this.#depth = 1;
        this.emit({ type: "open", attrs });
        return;
      }
      const child = new Element(name, attrs);
      this.#el = this.#el ? (this.#el.cnode(child) as Element) : child;
      this.#depth++;
    });
    this.#sax.on("endElement", () => {
      this.#depth--;
      if (this.#depth === 0) {
        this.emit({ type: "close" });
        return;
      }
      const el = this.#el!;
      if (this.#depth === 1) {
        this.#el = undefined;
        this.emit({ type: "element", el });
      } else {
        this.#el = el.parent as Element;
      }
    });
    this.#sax.on("text", (t: string) => {
      if (this.#el) this.#el.t(t);
    });
    this.#sax.on("error", (e: Error) => {
      throw e;
    });
  }

  write(s: string): void {
    this.#sax.write(s);
  }
}
