// /admin/v1 state: domain pairs, sessions, the audit log, Prometheus metrics. All of it is the
// ControlPlane's index, fed by the StreamSession DOs; operator actions fan out to those sessions.

import { createRoute, z } from "@hono/zod-openapi";
import { adminApp, actor, domainParam, security } from "./app.js";
import { controlPlane, orThrow } from "./control.js";
import { AuditPage, Cursor, Enforcement, DomainParam, Limit, Pair, PairPage, SessionDetail, SessionPage, StreamCondition, problemResponse } from "./schemas.js";
import { ProblemError } from "../problem.js";

export const stateRoutes = adminApp();

const unauthorized = { 401: problemResponse("missing or wrong bearer token") };
const invalid = { 422: problemResponse("invalid query or path value") };
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

stateRoutes.openapi(
  createRoute({
    method: "get",
    path: "/pairs",
    security,
    summary: "Domain pairs on live streams",
    request: {
      query: z.object({
        local: z.string().optional(),
        remote: z.string().optional(),
        direction: z.enum(["inbound", "outbound"]).optional(),
        state: z.enum(["pending", "valid", "invalid", "error"]).optional(),
        cursor: Cursor,
        limit: Limit,
      }),
    },
    responses: { 200: json(PairPage, "one page, ordered by local, remote, direction, session"), ...unauthorized, ...invalid },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const filter = {
      local: q.local === undefined ? undefined : domainParam(q.local, "local"),
      remote: q.remote === undefined ? undefined : domainParam(q.remote, "remote"),
      direction: q.direction,
      state: q.state,
    };
    return c.json(orThrow(await controlPlane(c.env).listPairs(filter, q.cursor, q.limit)), 200);
  },
);

const PairPath = z.object({
  local: DomainParam.openapi({ param: { name: "local", in: "path" }, example: "edge.example" }),
  remote: DomainParam.openapi({ param: { name: "remote", in: "path" }, example: "peer.example" }),
});

stateRoutes.openapi(
  createRoute({
    method: "get",
    path: "/pairs/{local}/{remote}",
    security,
    summary: "Every stream carrying the pair (local, remote), in either direction",
    request: { params: PairPath },
    responses: { 200: json(z.object({ items: z.array(Pair) }), "the pair on each stream"), ...unauthorized, 404: problemResponse("no stream carries it"), ...invalid },
  }),
  async (c) => {
    const p = c.req.valid("param");
    const [local, remote] = [domainParam(p.local, "local"), domainParam(p.remote, "remote")];
    const items = await controlPlane(c.env).pairsBetween(local, remote);
    if (items.length === 0) throw new ProblemError(404, "No such pair", `no stream carries the domain pair ${local} <-> ${remote}`);
    return c.json({ items }, 200);
  },
);

stateRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/pairs/{local}/{remote}",
    security,
    summary: "Revoke the pair on every stream at once (queued stanzas bounce; streams left with no pair close)",
    request: { params: PairPath },
    responses: {
      200: json(Enforcement, "revoked (failed lists sessions that did not answer)"),
      ...unauthorized,
      404: problemResponse("no stream carries it"),
      ...invalid,
    },
  }),
  async (c) => {
    const p = c.req.valid("param");
    const r = orThrow(await controlPlane(c.env).revokePair(domainParam(p.local, "local"), domainParam(p.remote, "remote"), actor(c)));
    return c.json(r, 200);
  },
);

stateRoutes.openapi(
  createRoute({
    method: "get",
    path: "/sessions",
    security,
    summary: "Live S2S stream sessions",
    request: { query: z.object({ cursor: Cursor, limit: Limit }) },
    responses: { 200: json(SessionPage, "one page, ordered by id"), ...unauthorized, ...invalid },
  }),
  async (c) => {
    const q = c.req.valid("query");
    return c.json(orThrow(await controlPlane(c.env).listSessions(q.cursor, q.limit)), 200);
  },
);

const SessionPath = z.object({ id: z.string().min(1).max(256).openapi({ param: { name: "id", in: "path" } }) });

stateRoutes.openapi(
  createRoute({
    method: "get",
    path: "/sessions/{id}",
    security,
    summary: "One session with its domain pairs",
    request: { params: SessionPath },
    responses: { 200: json(SessionDetail, "session"), ...unauthorized, 404: problemResponse("no live session with this id") },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const s = await controlPlane(c.env).getSession(id);
    if (!s) throw new ProblemError(404, "No such session", `no live session has id '${id}'`);
    return c.json(s, 200);
  },
);

stateRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/sessions/{id}",
    security,
    summary: "Close the stream with the stream error the operator chooses (default policy-violation)",
    request: {
      params: SessionPath,
      query: z.object({ condition: StreamCondition.default("policy-violation"), text: z.string().max(500).optional() }),
    },
    responses: {
      204: { description: "closed" },
      ...unauthorized,
      404: problemResponse("no live session with this id"),
      ...invalid,
      502: problemResponse("the session did not answer"),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    orThrow(await controlPlane(c.env).closeSession(id, q.condition, q.text, actor(c)));
    return c.body(null, 204);
  },
);

stateRoutes.openapi(
  createRoute({
    method: "get",
    path: "/audit",
    security,
    summary: "Audit log, newest first: policy changes, revocations, closes, spoofing attempts",
    request: {
      query: z.object({
        kind: z.string().max(64).optional(),
        domain: z.string().max(256).optional().describe("entries whose subject or detail names exactly this domain (a pair's side, a JID's domain, a word of the detail); not a longer name ending in it, nor its subdomains"),
        since: z.iso.datetime({ offset: true }).optional().describe("entries at or after this time (RFC 3339)"),
        until: z.iso.datetime({ offset: true }).optional().describe("entries at or before this time (RFC 3339)"),
        cursor: Cursor,
        limit: Limit,
      }),
    },
    responses: { 200: json(AuditPage, "one page"), ...unauthorized, ...invalid },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const filter = {
      kind: q.kind,
      domain: q.domain === undefined ? undefined : domainParam(q.domain, "domain"),
      since: q.since === undefined ? undefined : Date.parse(q.since),
      until: q.until === undefined ? undefined : Date.parse(q.until),
    };
    return c.json(orThrow(await controlPlane(c.env).listAudit(q.cursor, q.limit, filter)), 200);
  },
);

stateRoutes.openapi(
  createRoute({
    method: "get",
    path: "/metrics",
    security,
    summary: "Prometheus text exposition",
    responses: { 200: { description: "metrics", content: { "text/plain": { schema: z.string() } } }, ...unauthorized },
  }),
  async (c) => {
    const text = await controlPlane(c.env).metrics();
    return c.text(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  },
);
