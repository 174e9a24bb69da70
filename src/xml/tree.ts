// Builds ltx Elements from the lexer's tags and does the namespace processing ltx leaves out
// (Namespaces in XML 1.0): every prefix must be bound, declarations must be legal, and each
// finished top-level element gets the declarations it inherited, so it stands alone once detached.

import { Element } from "ltx";
import { StreamError } from "../errors.js";
import { isNameStart } from "./chars.js";
import type { LexerSink } from "./lexer.js";
import { NS_XML, NS_XMLNS } from "./namespaces.js";

/** A namespace binding and whether it came from the enclosing scope (stream header or <open/>). */
interface Binding {
  uri: string | undefined;
  inherited: boolean;
}

/** Declarations an element made, to undo when it ends: [prefix ('' = default), previous binding]. */
type Undo = Array<[string, Binding | undefined]>;

export interface TreeHooks {
  /** A start tag above the units (the stream header); the hook sets the scope with setScope(). */
  root?(name: string, attrs: Record<string, string>): void;
  /** The end tag of that element. */
  rootEnd?(name: string): void;
  /** A finished top-level element. */
  element(el: Element): void;
}

export class TreeBuilder implements LexerSink {
  #prefixes = new Map<string, Binding>();
  #default: Binding = { uri: undefined, inherited: true };
  #stack: Element[] = [];
  #undo: Array<Undo | null> = [];
  #usedDefault = false;
  #usedPrefixes: Set<string> | null = null;

  /** `unitDepth`: lexer depth of the top-level elements (1 on a stream, 0 in a frame). */
  constructor(
    private readonly unitDepth: number,
    private readonly hooks: TreeHooks,
  ) {}

  /** Sets the scope top-level elements inherit: default namespace and prefix bindings. */
  setScope(defaultNs: string | undefined, prefixes: Record<string, string>): void {
    this.#default = { uri: defaultNs, inherited: true };
    this.#prefixes = new Map();
    for (const [p, uri] of Object.entries(prefixes)) this.#prefixes.set(p, { uri, inherited: true });
    this.#stack = [];
    this.#undo = [];
  }

  startTag(name: string, attrs: Record<string, string>, special: readonly string[] | null, depth: number): void {
    const root = depth < this.unitDepth;
    if (root) {
      // The stream header: its declarations and prefixed attributes obey Namespaces in XML like any
      // element's (its own name is the hook's to check, with RFC 6120 §4.8's conditions); the
      // scope it opens for the units is then set by the hook.
      this.#default = { uri: undefined, inherited: false };
      this.#prefixes = new Map();
    } else if (depth === this.unitDepth) {
      this.#usedDefault = false;
      this.#usedPrefixes = null;
    }
    let undo: Undo | null = null;
    let prefixedAttrs: string[] | null = null;
    if (special !== null) {
      for (const k of special) {
        if (k.startsWith("xmlns") && (k.length === 5 || k.charCodeAt(5) === 0x3a)) {
          undo ??= [];
          this.#declare(k.length === 5 ? "" : k.slice(6), attrs[k]!, undo);
        } else if (k.includes(":")) {
          (prefixedAttrs ??= []).push(k);
        }
      }
    }
    if (root) {
      this.#resolve(name, true);
      if (prefixedAttrs) this.#resolveAttrs(prefixedAttrs);
      this.hooks.root?.(name, attrs);
      return;
    }
    this.#undo.push(undo);
    this.#resolve(name, true);
    if (prefixedAttrs) this.#resolveAttrs(prefixedAttrs);

    // Same shape as `new Element(name, attrs)` without copying attrs into a fresh object.
    const el: Element = Object.create(ELEMENT_PROTO);
    el.name = name;
    el.parent = null;
    el.children = [];
    el.attrs = attrs;
    const parent = this.#stack[this.#stack.length - 1];
    if (parent) {
      parent.children.push(el);
      el.parent = parent;
    }
    this.#stack.push(el);
  }

  endTag(name: string, depth: number): void {
    if (depth < this.unitDepth) {
      this.hooks.rootEnd?.(name);
      return;
    }
    const el = this.#stack.pop()!;
    const undo = this.#undo.pop();
    if (undo) {
      for (let i = undo.length - 1; i >= 0; i--) {
        const [p, prev] = undo[i]!;
        if (p === "") this.#default = prev!;
        else if (prev) this.#prefixes.set(p, prev);
        else this.#prefixes.delete(p);
      }
    }
    if (depth === this.unitDepth) {
      this.#standalone(el);
      this.hooks.element(el);
    }
  }

  text(text: string): void {
    this.#stack[this.#stack.length - 1]!.children.push(text);
  }

  // Namespaces in XML 1.0 §3 (NSC Reserved Prefixes and Namespace Names, NSC No Prefix Undeclaring).
  #declare(prefix: string, uri: string, undo: Undo): void {
    if (prefix === "") {
      if (uri === NS_XML || uri === NS_XMLNS) throw nwf(`default namespace '${uri}' is reserved`);
      undo.push(["", this.#default]);
      this.#default = { uri: uri === "" ? undefined : uri, inherited: false };
      return;
    }
    if (prefix === "xmlns") throw nwf("the prefix 'xmlns' cannot be declared");
    if (prefix.includes(":")) throw nwf(`malformed namespace declaration 'xmlns:${prefix}'`);
    if ((prefix === "xml") !== (uri === NS_XML) || uri === NS_XMLNS) {
      throw nwf(`prefix '${prefix}' cannot be bound to '${uri}'`);
    }
    if (uri === "") throw nwf(`prefix '${prefix}' undeclared (not allowed in Namespaces in XML 1.0)`);
    undo.push([prefix, this.#prefixes.get(prefix)]);
    this.#prefixes.set(prefix, { uri, inherited: false });
  }

  /**
   * Resolves prefixed attribute names. Namespaces in XML 1.0 §6.3: no two attributes may have the
   * same expanded name (e.g. a:x and b:x with a and b bound to one namespace); the raw names were
   * already found distinct by the lexer. One Set per element with two or more such attributes.
   */
  #resolveAttrs(qnames: readonly string[]): void {
    if (qnames.length === 1) {
      this.#resolve(qnames[0]!, false);
      return;
    }
    const seen = new Map<string, string>();
    for (const qname of qnames) {
      const uri = this.#resolve(qname, false)!;
      // A local name holds no space, so "local uri" names one expanded name.
      const key = `${qname.slice(qname.indexOf(":") + 1)} ${uri}`;
      const other = seen.get(key);
      if (other !== undefined) throw nwf(`attributes '${other}' and '${qname}' have the same expanded name`);
      seen.set(key, qname);
    }
  }

  /**
   * Checks that a QName's prefix is bound and returns its namespace (undefined for an unprefixed
   * name); notes bindings inherited from the enclosing scope.
   */
  #resolve(qname: string, isElement: boolean): string | undefined {
    const colon = qname.indexOf(":");
    if (colon === -1) {
      if (isElement && this.#default.inherited) this.#usedDefault = true;
      return undefined;
    }
    // Namespaces in XML 1.0 §4 [7]: Prefix ':' LocalPart, both NCNames (the lexer checked the
    // whole as an XML Name, so what is left is the colons and the local part's first character).
    if (
      colon === 0 || colon === qname.length - 1 || qname.indexOf(":", colon + 1) !== -1 ||
      !isNameStart(qname.charCodeAt(colon + 1))
    ) {
      throw nwf(`'${qname}' is not a qualified name`);
    }
    const prefix = qname.slice(0, colon);
    if (prefix === "xml") return NS_XML;
    if (prefix === "xmlns") throw nwf(`'${qname}' uses the reserved prefix 'xmlns'`);
    const b = this.#prefixes.get(prefix);
    // RFC 6120 §4.9.3.2: a prefix the stream never bound.
    if (b === undefined) throw new StreamError("bad-namespace-prefix", `prefix '${prefix}' is not bound`);
    if (b.inherited) (this.#usedPrefixes ??= new Set()).add(prefix);
    return b.uri;
  }

  /** Declares on a finished top-level element what it inherited, so it stands alone. */
  #standalone(el: Element): void {
    const attrs = el.attrs as Record<string, string>;
    if (this.#usedDefault && this.#default.uri !== undefined && !Object.hasOwn(attrs, "xmlns")) {
      attrs.xmlns = this.#default.uri;
    }
    if (this.#usedPrefixes) {
      for (const p of this.#usedPrefixes) {
        const key = `xmlns:${p}`;
        if (!Object.hasOwn(attrs, key)) attrs[key] = this.#prefixes.get(p)!.uri!;
      }
    }
  }
}

const ELEMENT_PROTO = Element.prototype;

const nwf = (text: string) => new StreamError("not-well-formed", text);
