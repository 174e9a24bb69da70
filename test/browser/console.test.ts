// The admin console in headless Chromium against a live edge (issue 14): sign-in, a session appearing
// live, revoking a pair ends its stream, a policy edit through a concurrent change, the peer check's
// timeline, audit filters and paging, hostile peer strings rendered inert, CSP, keyboard use, and no
// WCAG 2.1 A/AA violation (axe-core) on any page at desktop and phone widths.

import type { Browser, HTTPRequest, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { axeViolations, launchBrowser, signIn } from "./browser.js";
import { EDGE_DOMAIN, PEER_DOMAIN, startConsoleStack, type ConsoleStack } from "./stack.js";

let stack: ConsoleStack;
let browser: Browser;
/** Every URL the browser requested and everything its console printed, for the "no token" checks. */
const urls: string[] = [];
const logs: string[] = [];

beforeAll(async () => {
  const port = process.env.CONSOLE_EDGE_PORT ? Number(process.env.CONSOLE_EDGE_PORT) : undefined;
  stack = await startConsoleStack({ port, gatewayPort: port ? port + 1 : undefined });
  browser = await launchBrowser();
  await stack.inbound();
  await stack.outbound();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage();
  page.on("request", (r) => urls.push(r.url()));
  page.on("console", (m) => logs.push(m.text()));
  page.on("pageerror", (e) => logs.push(`pageerror: ${(e as Error).message}`));
  return page;
}

async function signedIn(hash = "overview"): Promise<Page> {
  const page = await newPage();
  await signIn(page, stack.url, stack.adminToken);
  if (hash !== "overview") {
    await page.goto(`${stack.url}/admin/#${hash}`);
    await page.waitForSelector("#page-title");
  }
  return page;
}

const text = (page: Page, sel: string) => page.$eval(sel, (el) => el.textContent ?? "");

async function sessions(): Promise<Array<{ id: string; peer?: string; direction: string }>> {
  return ((await (await stack.admin("/admin/v1/sessions?limit=500")).json()) as { items: Array<{ id: string; peer?: string; direction: string }> }).items;
}

describe("sign-in", () => {
  it("refuses a wrong token, accepts the admin token, and keeps it out of URLs and logs", async () => {
    const page = await newPage();
    const res = await page.goto(`${stack.url}/admin/`);
    const csp = res!.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    await page.waitForSelector("#token");
    await page.type("#token", "not-the-admin-token");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector("#signin-status")?.textContent?.includes("refused"));
    expect(await page.$eval("#nav", (el) => (el as HTMLElement).hidden)).toBe(true);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    await page.$eval("#token", (el) => ((el as HTMLInputElement).value = ""));
    await page.type("#token", stack.adminToken);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#page-title");
    expect(await text(page, "#page-title")).toBe("Overview");
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([stack.adminToken]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    await page.waitForSelector("[data-session]");
    expect(page.url()).not.toContain(stack.adminToken);
    // Signing out forgets the token.
    await page.click("#signout");
    await page.waitForSelector("#token");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.close();
  });
});

describe("live state", () => {
  it("shows a new inbound session on the overview without a reload", async () => {
    const page = await signedIn();
    await page.waitForSelector("[data-session]");
    const before = new Set(await page.$$eval("[data-session]", (els) => els.map((e) => (e as HTMLElement).dataset.session!)));
    const { job } = await stack.inbound();
    const fresh = await (async () => {
      for (;;) {
        const id = (await sessions()).find((s) => s.direction === "inbound" && !before.has(s.id))?.id;
        if (id) return id;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    expect(["ready", "sent"]).toContain(job.state);
    await page.waitForSelector(`[data-session="${fresh}"]`, { timeout: 15_000 });
    const row = await text(page, `[data-session="${fresh}"]`);
    expect(row).toContain(PEER_DOMAIN);
    expect(row).toContain("inbound");
    expect(row).toContain("WebSocket");

    // And one through the TCP ingress gateway.
    const seen = new Set([...before, fresh]);
    await stack.inboundGateway();
    const viaGateway = await (async () => {
      for (;;) {
        const s = (await sessions()).find((x) => x.direction === "inbound" && !seen.has(x.id));
        if (s) return s.id;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await page.waitForSelector(`[data-session="${viaGateway}"]`, { timeout: 15_000 });
    expect(await text(page, `[data-session="${viaGateway}"]`)).toContain("gateway (TCP)");
    await page.close();
  });

  it("revokes a pair from the peers page and the stream carrying it ends", async () => {
    const { job, ws } = await stack.inbound();
    const page = await signedIn("peers");
    await page.waitForSelector(`[data-domain="${PEER_DOMAIN}"] tr[data-pair]`);
    // The peer's verification latency (GET /peers/{domain} attempts' latencyMs), and how the pair is
    // authenticated from the pair record's via field.
    await page.waitForFunction((d) => /inbound \d+ ms/.test(document.querySelector(`[data-latency="${d}"]`)?.textContent ?? ""), { timeout: 15_000 }, PEER_DOMAIN);
    const row = await text(page, `[data-domain="${PEER_DOMAIN}"] tr[data-pair="${EDGE_DOMAIN}|${PEER_DOMAIN}|inbound"]`);
    expect(row).toContain("dialback");
    let confirmed = "";
    page.once("dialog", (d) => ((confirmed = d.message()), d.accept()));
    const closed = new Promise<void>((r) => ws.once("close", () => r()));
    await page.click(`[data-domain="${PEER_DOMAIN}"] tr[data-pair="${EDGE_DOMAIN}|${PEER_DOMAIN}|inbound"] button`);
    expect(confirmed).toContain("Revoke");
    await page.waitForFunction(() => /Revoke .*: done\. \d+ revoked/.test(document.querySelector(".action-status")?.textContent ?? ""), { timeout: 20_000 });
    await closed; // the peer's WebSocket ends: the stream has no pair left
    expect(["closed", "refused"]).toContain(job.state);
    await page.waitForFunction((d) => !document.querySelector(`[data-domain="${d}"] tr[data-pair]`), { timeout: 20_000 }, PEER_DOMAIN);
    expect((await sessions()).filter((s) => s.peer === PEER_DOMAIN)).toEqual([]);
    await page.close();
  });

  it("closes every stream with a peer from its card, and the peer's streams end", async () => {
    const { ws } = await stack.inbound();
    await stack.outbound();
    const page = await signedIn("peers");
    await page.waitForSelector(`[data-domain="${PEER_DOMAIN}"] tr[data-pair]`);
    const closed = new Promise<void>((r) => ws.once("close", () => r()));
    page.once("dialog", (d) => d.accept());
    await page.click(`[data-domain="${PEER_DOMAIN}"] [data-key="close-${PEER_DOMAIN}"]`);
    await page.waitForFunction(() => /Close streams with .*: done\. \d+ closed/.test(document.querySelector(".action-status")?.textContent ?? ""), { timeout: 20_000 });
    await closed;
    await page.waitForFunction((d) => !document.querySelector(`[data-domain="${d}"]`), { timeout: 20_000 }, PEER_DOMAIN);
    expect((await sessions()).filter((s) => s.peer === PEER_DOMAIN)).toEqual([]);
    await page.close();
  });

  it("runs the peer check and shows each step with its timing; a failing check explains the failing step", async () => {
    const page = await signedIn("peers");
    await page.type("#check-domain", PEER_DOMAIN);
    await page.click("form.inline button[type=submit]");
    await page.waitForSelector("ol.timeline", { timeout: 60_000 });
    const steps = await page.$$eval("ol.timeline li", (els) => els.map((e) => ({ step: (e as HTMLElement).dataset.step, ok: e.classList.contains("ok"), text: e.textContent ?? "" })));
    expect(steps.map((s) => s.step)).toEqual(["policy", "resolve", "connect", "stream-open", "dialback"]);
    expect(steps.every((s) => s.ok && / \d+(\.\d+)? ms/.test(s.text))).toBe(true);
    expect(await text(page, ".check .verdict")).toContain("federates");

    await page.$eval("#check-domain", (el) => ((el as HTMLInputElement).value = ""));
    await page.type("#check-domain", "nowhere.invalid");
    await page.click("form.inline button[type=submit]");
    await page.waitForSelector(".check.failed ol.timeline li.failed", { timeout: 60_000 });
    const failed = await text(page, ".check.failed li.failed");
    expect(failed).toMatch(/failed/);
    expect(await page.$eval(".check.failed li.failed .explain", (e) => e.textContent ?? "")).not.toBe("");
    await page.close();
  });
});

describe("policy", () => {
  it("saves with If-Match, and a concurrent change shows both versions and loses neither", async () => {
    const page = await signedIn("policy");
    await page.waitForSelector("#policy-form");
    const loaded = Number((await text(page, "#policy-version")).match(/Version (\d+)/)![1]);
    await page.$eval("#maxPairsPerStream", (el) => ((el as HTMLInputElement).value = ""));
    await page.type("#maxPairsPerStream", "4321");
    // Meanwhile someone else adds a rule through the API.
    const other = await stack.admin(`/admin/v1/policy/domains/${encodeURIComponent("*.other.example")}`, {
      method: "PUT",
      headers: { "content-type": "application/json", "if-match": `"${loaded}"`, "x-admin-actor": "colleague" },
      body: JSON.stringify({ action: "deny", note: "added by a colleague" }),
    });
    expect(other.status).toBe(201);
    await page.click("#policy-form button[type=submit]");
    await page.waitForSelector(".conflict");
    expect(await page.$eval(".conflict pre.mine", (e) => e.textContent)).toContain('"maxPairsPerStream": 4321');
    expect(await page.$eval(".conflict pre.theirs", (e) => e.textContent)).toContain("*.other.example");
    expect(await text(page, ".conflict")).toContain("admin:colleague");
    expect(await text(page, ".conflict .differences")).toContain("rule *.other.example");
    // Nothing was saved from the form.
    let now = (await (await stack.admin("/admin/v1/policy")).json()) as { version: number; document: { knobs: { maxPairsPerStream: number }; domains: Record<string, unknown> } };
    expect(now.version).toBe(loaded + 1);
    expect(now.document.knobs.maxPairsPerStream).not.toBe(4321);
    // The operator's edits are still in the form; "Discard mine, edit theirs" loads their version, then
    // the operator makes the change again on top of it and saves.
    expect(await page.$eval("#maxPairsPerStream", (e) => (e as HTMLInputElement).value)).toBe("4321");
    const [discard] = await page.$$(".conflict .actions button.secondary");
    await discard!.click();
    await page.waitForFunction(() => !document.querySelector(".conflict"));
    expect(await page.$$eval("table.rules input[type=text]", (els) => els.map((e) => (e as HTMLInputElement).value))).toContain("*.other.example");
    await page.$eval("#maxPairsPerStream", (el) => ((el as HTMLInputElement).value = ""));
    await page.type("#maxPairsPerStream", "4321");
    await page.click("#policy-form button[type=submit]");
    await page.waitForFunction(() => /Saved as version \d+/.test(document.querySelector("#policy-status")?.textContent ?? ""));
    now = (await (await stack.admin("/admin/v1/policy")).json()) as typeof now;
    expect(now.version).toBe(loaded + 2);
    expect(now.document.knobs.maxPairsPerStream).toBe(4321);
    expect(Object.keys(now.document.domains)).toContain("*.other.example");
    await page.close();
  });

  it("'Save mine over version N' replaces their version with the operator's after a conflict", async () => {
    const page = await signedIn("policy");
    await page.waitForSelector("#policy-form");
    await page.select("#onPairFailure", "close-stream");
    const r = await stack.admin("/admin/v1/policy", { method: "PATCH", headers: { "content-type": "application/merge-patch+json" }, body: JSON.stringify({ knobs: { bidi: false } }) });
    expect(r.status).toBe(200);
    await page.click("#policy-form button[type=submit]");
    await page.waitForSelector(".conflict");
    await page.click(".conflict .actions button:not(.secondary)");
    await page.waitForFunction(() => /Saved as version \d+/.test(document.querySelector("#policy-status")?.textContent ?? ""));
    const now = (await (await stack.admin("/admin/v1/policy")).json()) as { document: { knobs: { onPairFailure: string; bidi: boolean } } };
    expect(now.document.knobs.onPairFailure).toBe("close-stream");
    await stack.admin("/admin/v1/policy", { method: "PATCH", headers: { "content-type": "application/merge-patch+json" }, body: JSON.stringify({ knobs: { onPairFailure: "keep-stream", bidi: true } }) });
    await page.close();
  });
});

describe("audit", () => {
  it("filters by kind, domain and time, highlights spoofing attempts, and pages with the cursor", async () => {
    await stack.spoof();
    // 60 more entries (rule changes), so the log has more than one page of 50.
    for (let i = 0; i < 30; i++) {
      const p = `/admin/v1/policy/domains/${encodeURIComponent(`n${i}.paging.example`)}`;
      expect((await stack.admin(p, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ action: "allow" }) })).ok).toBe(true);
      expect((await stack.admin(p, { method: "DELETE" })).ok).toBe(true);
    }
    const page = await signedIn("audit");
    await page.waitForSelector("tr[data-kind]");
    expect(await page.$$eval("tr[data-kind]", (els) => els.length)).toBe(50);
    await page.click("#audit-more");
    await page.waitForFunction(() => document.querySelectorAll("tr[data-kind]").length > 50);
    const seqs = await page.$$eval("tr[data-kind]", (els) => els.map((e) => Number((e as HTMLElement).dataset.seq)));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(new Set(seqs).size).toBe(seqs.length);

    await page.select("#audit-kind", "spoofing-attempt");
    await page.click("form.filters button[type=submit]");
    await page.waitForFunction(() => [...document.querySelectorAll("tr[data-kind]")].every((e) => (e as HTMLElement).dataset.kind === "spoofing-attempt") && document.querySelector("tr[data-kind]"));
    const spoof = await page.$eval("tr[data-kind]", (e) => ({ cls: e.className, text: e.textContent ?? "" }));
    expect(spoof.cls).toContain("alert");
    expect(spoof.text).toContain("Spoofing attempt");
    expect(spoof.text).toContain(PEER_DOMAIN);

    await page.select("#audit-kind", "");
    await page.type("#audit-domain", "nobody.example");
    await page.click("form.filters button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#audit-status")?.textContent === "No entry matches.");

    await page.$eval("#audit-domain", (el) => ((el as HTMLInputElement).value = ""));
    await page.type("#audit-domain", "n7.paging.example");
    await page.click("form.filters button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("tr[data-kind]").length === 2);

    // A window that ended an hour ago holds none of these entries.
    await page.$eval("#audit-domain", (el) => ((el as HTMLInputElement).value = ""));
    await page.$eval("#audit-until", (el) => {
      const d = new Date(Date.now() - 3_600_000 - new Date().getTimezoneOffset() * 60_000);
      (el as HTMLInputElement).value = d.toISOString().slice(0, 19);
    });
    await page.click("form.filters button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#audit-status")?.textContent === "No entry matches.");
    await page.close();
  });
});

describe("peer-controlled strings", () => {
  it("are rendered as text: markup stays inert, bidi overrides are shown, 10 KB domains are cut", async () => {
    const hostile = {
      html: `<img src=x onerror="window.__pwned=1">evil.example`,
      rtl: `moc.\u202Eevil.example`,
      long: `${"a".repeat(63)}.`.repeat(160) + "example",
    };
    const page = await newPage();
    await page.setRequestInterception(true);
    const fake = (r: HTTPRequest) => {
      const u = new URL(r.url());
      const json = (v: unknown) => r.respond({ status: 200, contentType: "application/json", body: JSON.stringify(v) });
      const t = new Date().toISOString();
      if (u.pathname === "/admin/v1/sessions") {
        return json({ nextCursor: null, items: Object.values(hostile).map((d, i) => ({ id: `${d}#${i}`, direction: "inbound", transport: "websocket", peer: d, local: EDGE_DOMAIN, tls: false, bidi: false, openedAt: Date.now(), bytesIn: 0, bytesOut: 0, stanzasIn: 0, stanzasOut: 0, pairs: 1 })) });
      }
      if (u.pathname === "/admin/v1/pairs") {
        return json({ nextCursor: null, items: Object.values(hostile).map((d, i) => ({ local: EDGE_DOMAIN, remote: d, direction: "inbound", state: "invalid", condition: hostile.html, sessionId: `${d}#${i}`, updatedAt: t })) });
      }
      if (u.pathname === "/admin/v1/audit") {
        return json({ nextCursor: null, items: Object.values(hostile).map((d, i) => ({ seq: i + 1, at: t, actor: `session:${d}`, kind: "spoofing-attempt", subject: `${EDGE_DOMAIN}<-${d}`, old: null, new: { note: d }, detail: `authority for ${d} said invalid` })) });
      }
      return r.continue();
    };
    page.on("request", fake);
    await signIn(page, stack.url, stack.adminToken);
    for (const hash of ["overview", "peers", "audit"]) {
      await page.goto(`${stack.url}/admin/#${hash}`);
      await page.waitForFunction(() => document.body.textContent!.includes("\u27e8U+202E\u27e9"), { timeout: 15_000 });
      const dom = await page.evaluate(() => ({
        imgs: document.querySelectorAll("img").length,
        handlers: [...document.querySelectorAll("*")].filter((e) => [...e.attributes].some((a) => a.name.startsWith("on"))).length,
        pwned: (window as unknown as { __pwned?: number }).__pwned,
        text: document.body.textContent ?? "",
        rawRtl: (document.body.textContent ?? "").includes("\u202E"),
        longest: Math.max(...[...document.querySelectorAll("bdi.peer")].map((e) => e.textContent!.length)),
        overflow: document.documentElement.scrollWidth > window.innerWidth + 1,
      }));
      expect(dom.imgs).toBe(0);
      expect(dom.handlers).toBe(0);
      expect(dom.pwned).toBeUndefined();
      expect(dom.text).toContain("<img src=x onerror=");
      expect(dom.rawRtl).toBe(false);
      expect(dom.longest).toBeLessThan(260);
      expect(dom.text).toMatch(/\(102\d\d characters\)/);
      expect(dom.overflow).toBe(false);
    }
    await page.close();
  });
});

describe("self-check", () => {
  it("is offered only when GET /admin/v1/check answers, and shows findings with their fixes", async () => {
    const answers = (await stack.admin("/admin/v1/check")).status;
    const page = await newPage();
    await signIn(page, stack.url, stack.adminToken);
    expect(await page.$eval("#nav-check", (e) => (e as HTMLElement).hidden)).toBe(answers !== 200);

    const faked = await newPage();
    await faked.setRequestInterception(true);
    faked.on("request", (r) =>
      new URL(r.url()).pathname === "/admin/v1/check"
        ? r.respond({ status: 200, contentType: "application/json", body: JSON.stringify({ findings: [{ id: "srv", severity: "error", domain: EDGE_DOMAIN, message: "no SRV record", fix: "Add _xmpp-server._tcp.edge.test SRV 0 5 5269 gw.edge.test." }] }) })
        : r.continue(),
    );
    await signIn(faked, stack.url, stack.adminToken);
    expect(await faked.$eval("#nav-check", (e) => (e as HTMLElement).hidden)).toBe(false);
    await faked.click("#nav-check a");
    await faked.waitForSelector(".finding");
    expect(await text(faked, ".finding")).toContain("Fix: Add _xmpp-server._tcp.edge.test");
    await page.close();
    await faked.close();
  });
});

describe("accessibility and keyboard", () => {
  it("every page has no WCAG 2.1 A/AA violation (axe-core), at desktop and phone widths", async () => {
    const page = await signedIn();
    const found: Record<string, unknown> = {};
    for (const viewport of [{ width: 1280, height: 900 }, { width: 390, height: 844 }]) {
      await page.setViewport(viewport);
      const check = !(await page.$eval("#nav-check", (e) => (e as HTMLElement).hidden));
      for (const hash of ["overview", "peers", "policy", "audit", ...(check ? ["check"] : [])]) {
        await page.goto(`${stack.url}/admin/#${hash}`);
        await page.waitForSelector("#page-title");
        await new Promise((r) => setTimeout(r, 1500));
        const v = await axeViolations(page);
        if (v.length) found[`${hash}@${viewport.width}`] = v;
      }
    }
    await page.click("#signout");
    await page.waitForSelector("#token");
    const v = await axeViolations(page);
    if (v.length) found["sign-in"] = v;
    expect(found).toEqual({});
    await page.close();
  });

  it("is usable from the keyboard: skip link, page links, actions", async () => {
    const page = await signedIn();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    // Tab to the Peers link and follow it with Enter.
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press("Tab");
      if ((await page.evaluate(() => document.activeElement?.textContent)) === "Peers") break;
    }
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector("#page-title")?.textContent === "Peers");
    // From the main region, Tab reaches the check form's field with a label.
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press("Tab");
      if ((await page.evaluate(() => document.activeElement?.id)) === "check-domain") break;
    }
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).labels?.[0]?.textContent)).toBe("Peer domain");
    await page.close();
  });

  it("never put the token in a URL or a console message", () => {
    expect(urls.length).toBeGreaterThan(0);
    expect(urls.filter((u) => u.includes(stack.adminToken))).toEqual([]);
    expect(logs.filter((l) => l.includes(stack.adminToken))).toEqual([]);
  });
});
