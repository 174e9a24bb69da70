// The interop infrastructure itself: our own Prosody and ejabberd, on loopback with our DNS and test
// CA, federate with each other both ways, in plaintext and with STARTTLS required. If this fails,
// the edge's interop tests cannot mean anything.

import { describe, expect, it } from "vitest";
import { federationSanity } from "../../scripts/interop/sanity.mjs";

describe.each([
  { tls: false, label: "plaintext" },
  { tls: true, label: "STARTTLS required" },
])("Prosody <-> ejabberd federation ($label)", ({ tls }) => {
  it("delivers a message from a Prosody user to an ejabberd user and back", async () => {
    const { m1, m2 } = await federationSanity({ tls });
    expect(m1.attrs.from).toMatch(/^alice@prosody\.test\//);
    expect(m1.attrs.to).toMatch(/^dave@ejabberd\.test/);
    expect(m2.attrs.from).toMatch(/^dave@ejabberd\.test\//);
    expect(m2.attrs.to).toMatch(/^alice@prosody\.test/);
  });
});
