// npm run console:screenshots: PNG screenshots of every console page at desktop and phone widths,
// into docs/screenshots/ (for review and the README). Starts its own edge and harness peer with live
// state (a verified inbound stream, an outbound stream, a spoofing attempt, a peer check).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./interop/lib/paths.mjs";
import { launchBrowser, signIn } from "../test/browser/browser.js";
import { PEER_DOMAIN, startConsoleStack } from "../test/browser/stack.js";

const out = join(ROOT, "docs", "screenshots");
mkdirSync(out, { recursive: true });
const WIDTHS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } } as const;
const PAGES = ["overview", "peers", "policy", "audit", "check"] as const;

const port = process.env.CONSOLE_EDGE_PORT ? Number(process.env.CONSOLE_EDGE_PORT) : undefined;
const stack = await startConsoleStack({ name: "screenshots", port, gatewayPort: port ? port + 1 : undefined });
const browser = await launchBrowser();
try {
  await stack.inbound();
  await stack.inboundGateway();
  await stack.outbound();
  await stack.spoof();
  await stack.admin(`/admin/v1/policy/domains/${encodeURIComponent("*.blocked.example")}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ action: "deny", note: "abuse reports" }),
  });
  const page = await browser.newPage();
  await signIn(page, stack.url, stack.adminToken);
  const hasCheck = await page.$eval("#nav-check", (el) => !(el as HTMLElement).hidden);
  for (const [label, viewport] of Object.entries(WIDTHS)) {
    await page.setViewport(viewport);
    for (const name of PAGES) {
      if (name === "check" && !hasCheck) continue;
      await page.goto(`${stack.url}/admin/#${name}`);
      await page.waitForSelector("#page-title");
      if (name === "overview") await page.waitForSelector("[data-session]");
      if (name === "peers") {
        await page.waitForSelector(`[data-domain="${PEER_DOMAIN}"]`);
        await page.click(`[data-domain="${PEER_DOMAIN}"] [data-key="check-${PEER_DOMAIN}"]`);
        await page.waitForSelector("ol.timeline", { timeout: 60_000 });
      }
      if (name === "audit") await page.waitForSelector("tr[data-kind]");
      if (name === "policy") await page.waitForSelector("#policy-form");
      if (name === "check") await page.waitForSelector(".findings, .error", { timeout: 60_000 });
      await new Promise((r) => setTimeout(r, 300));
      const file = join(out, `${name}-${label}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(file);
    }
  }
} finally {
  await browser.close();
  await stack.stop();
}
