// Pure helpers of the admin API: cursors, Prometheus rendering, and the probe's element scanner.
import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "../../durable-objects/control-plane/cursor.js";
import { renderPrometheus } from "../../durable-objects/control-plane/prometheus.js";

describe("cursors", () => {
  it("round-trip their key and refuse anything else", () => {
    const c = encodeCursor(["edge.test", "peer.test", "inbound", "s/1+?"]);
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(c, 4)).toEqual(["edge.test", "peer.test", "inbound", "s/1+?"]);
    expect(decodeCursor(c, 1)).toBeUndefined();
    expect(decodeCursor("not-base64!!", 1)).toBeUndefined();
    expect(decodeCursor(encodeCursor([1]).slice(1), 1)).toBeUndefined();
    expect(decodeCursor(btoa(JSON.stringify([{}])), 1)).toBeUndefined();
  });
});

describe("renderPrometheus", () => {
  it("writes HELP/TYPE and escapes label values", () => {
    const text = renderPrometheus([
      { name: "x_total", help: "Things.", type: "counter", samples: [{ labels: { condition: 'a"b\\c\nd' }, value: 2 }] },
      { name: "h", help: "H.", type: "histogram", samples: [{ suffix: "_bucket", labels: { le: "+Inf" }, value: 1 }, { suffix: "_count", value: 1 }] },
    ]);
    expect(text).toBe(
      '# HELP x_total Things.\n# TYPE x_total counter\nx_total{condition="a\\"b\\\\c\\nd"} 2\n' +
        '# HELP h H.\n# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n',
    );
  });
});
