// Headless Chromium for the console tests and screenshots: Debian's /usr/bin/chromium (CHROMIUM_PATH
// overrides), driven by puppeteer-core, which never downloads a browser.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (see .ci/run), or set CHROMIUM_PATH`);
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // --no-sandbox: the tests run as root (CI), where Chromium's sandbox refuses to start.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-extensions"],
  });
}

/** Opens /admin/ and signs in with `token` through the form; resolves once the overview shows. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/admin/`, { waitUntil: "load" });
  await page.waitForSelector("#token");
  await page.type("#token", token);
  await page.click("form.signin button[type=submit]");
  await page.waitForSelector("#page-title");
}

/** axe-core from node_modules, injected into the page (no CDN); resolves the WCAG 2.1 A/AA violations. */
export async function axeViolations(page: Page): Promise<Array<{ id: string; impact: string; help: string; nodes: string[] }>> {
  const path = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
  // The console's CSP allows no inline script; DevTools evaluation is not subject to it.
  const { readFileSync } = await import("node:fs");
  await page.evaluate(readFileSync(path, "utf8"));
  return page.evaluate(async () => {
    const r = await (globalThis as any).axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n: any) => n.target.join(" ")) }));
  });
}
