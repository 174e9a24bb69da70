import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

describe("GET /", () => {
  it("names the version and hosted domains, and no secret", async () => {
    const res = await SELF.fetch("https://edge.test/");
    expect(res.status).toBe(200);
    const body = await res.json<Record<string, unknown>>();
    expect(body.name).toBe("dialback-edge");
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.domains).toEqual(["edge.test", "chat.edge.test"]);
    const text = JSON.stringify(body);
    expect(text).not.toContain("test-secret");
    expect(text).not.toContain("test-admin-token");
  });
});
