// /admin/v1/policy and /admin/v1/policy/domains/{domain}: the federation policy, versioned. Every
// change may carry If-Match: "<version>" (the ETag of GET); a stale one gets 412 (RFC 9110 §13.1.1)
// and changes nothing.

import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { adminApp, actor, security } from "./app.js";
import { controlPlane, orThrow } from "./control.js";
import { DomainParam, DomainRule, MergePatch, PolicyChange, PolicyDocument, PolicyState, RuleChange, RuleState, problemResponse } from "./schemas.js";
import { ProblemError } from "../problem.js";
import { matchRule, normalizePattern, policyWarnings, ruleFor } from "../../src/policy/index.js";
import type { MutationResult, PolicyOp } from "../../durable-objects/control-plane.js";

export const policyRoutes = adminApp();

const IfMatch = z.object({
  "if-match": z.string().optional().openapi({ description: 'the policy version last seen, as its ETag ("3")' }),
});

const common = {
  401: problemResponse("missing or wrong bearer token"),
  422: problemResponse("invalid value; detail names each field"),
};

function ifMatch(c: Context): number | undefined {
  const h = c.req.header("if-match");
  if (h === undefined || h.trim() === "*") return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(h);
  if (!m) throw new ProblemError(422, "Invalid If-Match", `If-Match must be the ETag of a policy version, e.g. "3"; got ${h}`);
  return Number(m[1]);
}

async function mutate(c: Context, op: PolicyOp) {
  const r = orThrow<MutationResult>(await controlPlane(c.env).updatePolicy(op, { actor: actor(c), ifMatch: ifMatch(c) }));
  c.header("ETag", `"${r.version}"`);
  return r;
}

policyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/policy",
    security,
    summary: "The federation policy in force, with its version (also the ETag)",
    responses: { 200: { description: "policy", content: { "application/json": { schema: PolicyState } } }, 401: common[401] },
  }),
  async (c) => {
    const p = await controlPlane(c.env).getPolicy();
    c.header("ETag", `"${p.version}"`);
    return c.json(
      {
        version: p.version,
        document: p.document,
        updatedAt: p.updatedAt ? new Date(p.updatedAt).toISOString() : null,
        updatedBy: p.updatedBy,
        warnings: policyWarnings(p.document),
      },
      200,
    );
  },
);

policyRoutes.openapi(
  createRoute({
    method: "put",
    path: "/policy",
    security,
    summary: "Replace the whole policy",
    request: { headers: IfMatch, body: { required: true, content: { "application/json": { schema: PolicyDocument } } } },
    responses: {
      200: { description: "new version; pairs the new policy refuses were revoked", content: { "application/json": { schema: PolicyChange } } },
      ...common,
      412: problemResponse("If-Match names an older version (RFC 9110 §13.1.1); nothing changed"),
    },
  }),
  async (c) => {
    const r = await mutate(c, { op: "replace", document: c.req.valid("json") });
    return c.json({ version: r.version, document: r.document, warnings: r.warnings, enforcement: r.enforcement }, 200);
  },
);

policyRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/policy",
    security,
    summary: "Change part of the policy (RFC 7396 JSON Merge Patch; null deletes)",
    request: {
      headers: IfMatch,
      body: {
        required: true,
        content: { "application/merge-patch+json": { schema: MergePatch }, "application/json": { schema: MergePatch } },
      },
    },
    responses: {
      200: { description: "new version", content: { "application/json": { schema: PolicyChange } } },
      ...common,
      412: problemResponse("If-Match names an older version (RFC 9110 §13.1.1); nothing changed"),
    },
  }),
  async (c) => {
    const patch = await c.req.json().catch(() => {
      throw new ProblemError(400, "Malformed JSON", "the request body is not JSON");
    });
    if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
      throw new ProblemError(422, "Invalid request", "body: a merge patch must be a JSON object");
    }
    const r = await mutate(c, { op: "patch", patch });
    return c.json({ version: r.version, document: r.document, warnings: r.warnings, enforcement: r.enforcement }, 200);
  },
);

const DomainPath = z.object({ domain: DomainParam.openapi({ param: { name: "domain", in: "path" }, example: "*.example.org" }) });

// `raw` was percent-decoded once by Hono (see domainParam).
function pattern(raw: string): string {
  const p = normalizePattern(raw);
  if (!p) throw new ProblemError(422, "Invalid domain pattern", `'${raw}' is not a domain or *.domain pattern`);
  return p;
}

policyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/policy/domains/{domain}",
    security,
    summary: "The rule for one domain or *.domain pattern",
    request: { params: DomainPath },
    responses: {
      200: { description: "rule", content: { "application/json": { schema: RuleState } } },
      401: common[401],
      404: problemResponse("no rule for exactly this pattern (detail says what governs it)"),
      422: common[422],
    },
  }),
  async (c) => {
    const p = pattern(c.req.valid("param").domain);
    const { version, document } = await controlPlane(c.env).getPolicy();
    const rule = ruleFor(document.domains, p);
    if (!rule) {
      const m = p.startsWith("*.") ? undefined : matchRule(document.domains, p);
      const governs = m ? `rule '${m.pattern}' (${m.rule.action})` : `the global level '${document.level}'${document.allowlistOnly ? " in allowlist-only mode" : ""}`;
      throw new ProblemError(404, "No such rule", `the policy has no rule for '${p}'; it is governed by ${governs}`);
    }
    c.header("ETag", `"${version}"`);
    return c.json({ pattern: p, rule, version }, 200);
  },
);

policyRoutes.openapi(
  createRoute({
    method: "put",
    path: "/policy/domains/{domain}",
    security,
    summary: "Create or replace the rule for a domain or *.domain pattern",
    request: { params: DomainPath, headers: IfMatch, body: { required: true, content: { "application/json": { schema: DomainRule } } } },
    responses: {
      200: { description: "rule replaced", content: { "application/json": { schema: RuleChange } } },
      201: { description: "rule created", content: { "application/json": { schema: RuleChange } } },
      ...common,
      412: problemResponse("If-Match names an older version (RFC 9110 §13.1.1); nothing changed"),
    },
  }),
  async (c) => {
    const p = pattern(c.req.valid("param").domain);
    const r = await mutate(c, { op: "put-rule", pattern: p, rule: c.req.valid("json") });
    return c.json({ pattern: p, rule: ruleFor(r.document.domains, p) ?? null, version: r.version, enforcement: r.enforcement }, r.created ? 201 : 200);
  },
);

policyRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/policy/domains/{domain}",
    security,
    summary: "Remove the rule for a domain or *.domain pattern",
    request: { params: DomainPath, headers: IfMatch },
    responses: {
      200: { description: "rule removed", content: { "application/json": { schema: RuleChange } } },
      401: common[401],
      404: problemResponse("no rule for this pattern"),
      412: problemResponse("If-Match names an older version (RFC 9110 §13.1.1); nothing changed"),
      422: common[422],
    },
  }),
  async (c) => {
    const p = pattern(c.req.valid("param").domain);
    const r = await mutate(c, { op: "delete-rule", pattern: p });
    return c.json({ pattern: p, rule: null, version: r.version, enforcement: r.enforcement }, 200);
  },
);
