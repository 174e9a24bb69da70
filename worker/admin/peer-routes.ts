// /admin/v1/peers/{domain} (diagnosis) and /admin/v1/dialback/verify (the Authoritative Server as an
// HTTP service for servers that share our secret).

import { createRoute, z } from "@hono/zod-openapi";
import { actor, adminApp, domainParam, security } from "./app.js";
import { controlPlane } from "./control.js";
import { CheckBody, CheckResult, DomainParam, PeerClose, PeerState, StreamCondition, VerifyBody, VerifyResult, problemResponse } from "./schemas.js";
import { checkPeer } from "./peer-check.js";
import { edgeConfig } from "../../durable-objects/lib/config.js";
import { ProblemError } from "../problem.js";
import { DialbackKeys } from "../../src/dialback/keys.js";
import { effectiveKnobs } from "../../src/policy/index.js";
import { asStreamId } from "../../src/types.js";

export const peerRoutes = adminApp();

const unauthorized = { 401: problemResponse("missing or wrong bearer token") };
const invalid = { 422: problemResponse("invalid value; detail names it") };
const PeerPath = z.object({ domain: DomainParam.openapi({ param: { name: "domain", in: "path" }, example: "peer.example" }) });

peerRoutes.openapi(
  createRoute({
    method: "get",
    path: "/peers/{domain}",
    security,
    summary: "What policy says about a peer, its live sessions and pairs, and the last attempts each way",
    request: { params: PeerPath },
    responses: { 200: { description: "peer", content: { "application/json": { schema: PeerState } } }, ...unauthorized, ...invalid },
  }),
  async (c) => c.json(await controlPlane(c.env).peer(domainParam(c.req.valid("param").domain, "domain")), 200),
);

peerRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/peers/{domain}/sessions",
    security,
    summary: "Close every stream with a peer (ejabberd's stop_s2s_connections, Prosody's s2s:close); audited",
    description:
      "Streams whose peer is the domain close with the stream error `condition` (default policy-violation; queued stanzas bounce). " +
      "On a stream of another peer that also carries pairs with the domain (multiplexing), those pairs are revoked and the rest carry on. " +
      "Nothing open is not an error: the lists are empty. Policy is unchanged, so the peer may connect again; deny it in /policy to keep it out.",
    request: {
      params: PeerPath,
      query: z.object({ condition: StreamCondition.default("policy-violation"), text: z.string().max(500).optional() }),
    },
    responses: { 200: { description: "what was closed and revoked", content: { "application/json": { schema: PeerClose } } }, ...unauthorized, ...invalid },
  }),
  async (c) => {
    const domain = domainParam(c.req.valid("param").domain, "domain");
    const q = c.req.valid("query");
    return c.json(await controlPlane(c.env).closePeerSessions(domain, q.condition, q.text, actor(c)), 200);
  },
);

peerRoutes.openapi(
  createRoute({
    method: "post",
    path: "/peers/{domain}/check",
    security,
    summary: "Diagnose federation with a peer: policy, resolve, connect, stream open, STARTTLS, dialback, each timed",
    request: { params: PeerPath, body: { required: false, content: { "application/json": { schema: CheckBody } } } },
    responses: {
      200: { description: "every step run, the failing one last; ok is true when dialback succeeded", content: { "application/json": { schema: CheckResult } } },
      ...unauthorized,
      ...invalid,
    },
  }),
  async (c) => {
    const config = await edgeConfig(c.env);
    const peer = domainParam(c.req.valid("param").domain, "domain");
    const body = (c.req.header("content-type") ?? "").includes("json") ? c.req.valid("json") : {};
    const from = body.from === undefined ? config.domains[0]! : domainParam(body.from, "from");
    if (!config.domains.includes(from)) {
      throw new ProblemError(422, "Not a hosted domain", `from '${from}' is not one of EDGE_DOMAINS (${config.domains.join(", ")})`);
    }
    if (config.domains.includes(peer)) throw new ProblemError(422, "Hosted domain", `'${peer}' is hosted by this edge, not a peer`);
    const cp = controlPlane(c.env);
    const { document } = await cp.getPolicy();
    const steps = await checkPeer(peer, from, config, document);
    const ok = steps.length > 0 && steps.every((s) => s.ok) && steps[steps.length - 1]!.step === "dialback";
    const failed = steps.find((s) => !s.ok);
    await cp.reportPeerAttempt({
      domain: peer,
      direction: "outbound",
      at: Date.now(),
      outcome: ok ? "success" : "failure",
      condition: failed?.condition,
      detail: `admin check: ${failed ? `${failed.step}: ${failed.detail}` : "dialback valid"}`,
    });
    return c.json({ domain: peer, from, ok, steps }, 200);
  },
);

// Built once per isolate and config: importing HMAC keys is the expensive part.
const keysCache = new WeakMap<object, Map<string, DialbackKeys>>();

peerRoutes.openapi(
  createRoute({
    method: "post",
    path: "/dialback/verify",
    security,
    summary: "Authoritative Server over HTTP (XEP-0220 §2.2.2): is this dialback key ours? The secret never leaves the edge",
    request: { body: { required: true, content: { "application/json": { schema: VerifyBody } } } },
    responses: {
      200: { description: "verdict", content: { "application/json": { schema: VerifyResult } } },
      ...unauthorized,
      404: problemResponse("originating is not a domain hosted here (the dialback item-not-found)"),
      ...invalid,
    },
  }),
  async (c) => {
    const b = c.req.valid("json");
    const config = await edgeConfig(c.env);
    const receiving = domainParam(b.receiving, "receiving");
    const originating = domainParam(b.originating, "originating");
    // XEP-0220 §2.4: item-not-found when the domain asked about is not hosted here.
    if (!config.domains.includes(originating)) {
      throw new ProblemError(404, "Not a hosted domain", `originating '${originating}' is not hosted by this edge`);
    }
    const cp = controlPlane(c.env);
    const { document } = await cp.getPolicy();
    const formulas = effectiveKnobs(document, {
      maxPendingPerStream: config.limits.maxPendingPerStream,
      maxStanzaBytes: config.limits.maxStanzaBytes,
      keyFormulas: config.keyFormulas,
    }).keyFormulas;
    let perConfig = keysCache.get(config);
    if (!perConfig) keysCache.set(config, (perConfig = new Map()));
    let keys = perConfig.get(formulas.join(","));
    if (!keys) perConfig.set(formulas.join(","), (keys = new DialbackKeys(config.secret, config.previousSecrets, formulas)));
    const valid = await keys.verify({ receiving, originating, streamId: asStreamId(b.streamId) }, b.key.trim());
    await cp.observe([{ kind: "http-verify", result: valid ? "valid" : "invalid" }]);
    return c.json({ result: valid ? ("valid" as const) : ("invalid" as const) }, 200);
  },
);
