/**
 * A local stand-in for api.github.com serving the few REST endpoints the action uses, and checking
 * every request against GitHub's published OpenAPI description (@octokit/openapi): the path must
 * be a documented path, the method a documented operation, path and query parameters must match
 * their schemas, and a JSON body must match the operation's request-body schema (with unknown
 * top-level properties flagged, which GitHub silently ignores). Responses are validated against
 * the documented response schema too, so the fake cannot drift from what GitHub returns.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const require = createRequire(import.meta.url);
const SPEC_ID = 'https://api.github.com/openapi.json';
const addFormats = (addFormatsModule as any).default ?? addFormatsModule;

interface Operation {
  template: string;
  regex: RegExp;
  literalSegments: number;
  method: string;
  op: any;
}

let cached: { spec: any; ajv: Ajv; routes: Operation[] } | null = null;

function rewriteRefs(x: any): any {
  if (Array.isArray(x)) return x.map(rewriteRefs);
  if (x && typeof x === 'object') {
    const out: any = {};
    for (const [k, v] of Object.entries(x)) out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? SPEC_ID + v : rewriteRefs(v);
    return out;
  }
  return x;
}

export function loadSpec() {
  if (cached) return cached;
  const file = require.resolve('@octokit/openapi/generated/api.github.com.json');
  const spec = JSON.parse(readFileSync(file, 'utf8'));
  // OpenAPI 3.0: `nullable` is understood by ajv; vendor keywords (x-github, example) are ignored.
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, discriminator: false, coerceTypes: false });
  addFormats(ajv);
  ajv.addSchema({ $id: SPEC_ID, components: spec.components }, undefined, undefined, false);
  const routes: Operation[] = [];
  for (const [template, item] of Object.entries<any>(spec.paths)) {
    const segs = template.split('/').filter(Boolean);
    const regex = new RegExp('^' + segs.map((s) => '/' + (s.startsWith('{') ? '([^/]+)' : s.replace(/[.$]/g, '\\$&'))).join('') + '$');
    for (const method of ['get', 'post', 'patch', 'put', 'delete']) {
      if (item[method]) routes.push({ template, regex, literalSegments: segs.filter((s) => !s.startsWith('{')).length, method, op: item[method] });
    }
  }
  cached = { spec, ajv, routes };
  return cached;
}

function deref(spec: any, x: any): any {
  if (x && x.$ref) return x.$ref.slice(2).split('/').reduce((o: any, k: string) => o[k], spec);
  return x;
}

const compiled = new Map<string, ValidateFunction>();
function validator(key: string, schema: any): ValidateFunction {
  let v = compiled.get(key);
  if (!v) {
    v = loadSpec().ajv.compile(rewriteRefs(schema));
    compiled.set(key, v);
  }
  return v;
}

export interface Comment {
  id: number;
  body: string;
  login: string;
  type: 'User' | 'Bot';
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: any;
  status: number;
  authorization: string | undefined;
}

export interface Injection {
  method: string;
  path: RegExp;
  status: number;
  times: number;
  message?: string;
  headers?: Record<string, string>;
}

export class FakeGitHub {
  server: Server;
  url = '';
  comments = new Map<number, Comment[]>();
  requests: RecordedRequest[] = [];
  violations: string[] = [];
  injections: Injection[] = [];
  /** When true, writes get 403 like a fork PR's read-only GITHUB_TOKEN. */
  readOnly = false;
  botLogin = 'github-actions[bot]';
  /** Open pull requests served by GET /repos/{owner}/{repo}/pulls. */
  pulls: { number: number; headSha: string; headRepo: string }[] = [];
  private nextId = 1000;

  constructor() {
    loadSpec();
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  reset(): void {
    this.comments.clear();
    this.requests = [];
    this.violations = [];
    this.injections = [];
    this.readOnly = false;
    this.pulls = [];
  }

  addComment(issue: number, body: string, login = 'octocat', type: 'User' | 'Bot' = 'User'): Comment {
    const c = { id: this.nextId++, body, login, type };
    const list = this.comments.get(issue) ?? [];
    list.push(c);
    this.comments.set(issue, list);
    return c;
  }

  private user(login: string, type: string) {
    const id = type === 'Bot' ? 41898282 : 583231;
    const u = `https://api.github.com/users/${encodeURIComponent(login)}`;
    return {
      login, id, node_id: 'MDQ6VXNlcjE=', avatar_url: 'https://avatars.githubusercontent.com/u/1', gravatar_id: '',
      url: u, html_url: type === 'Bot' ? `https://github.com/apps/${login.replace('[bot]', '')}` : `https://github.com/${login}`, followers_url: `${u}/followers`, following_url: `${u}/following{/other_user}`,
      gists_url: `${u}/gists{/gist_id}`, starred_url: `${u}/starred{/owner}{/repo}`, subscriptions_url: `${u}/subscriptions`,
      organizations_url: `${u}/orgs`, repos_url: `${u}/repos`, events_url: `${u}/events{/privacy}`,
      received_events_url: `${u}/received_events`, type, site_admin: false,
    };
  }

  private commentJson(owner: string, repo: string, issue: number, c: Comment) {
    return {
      id: c.id, node_id: 'IC_kwDOA' + c.id, url: `https://api.github.com/repos/${owner}/${repo}/issues/comments/${c.id}`,
      html_url: `https://github.com/${owner}/${repo}/pull/${issue}#issuecomment-${c.id}`, body: c.body,
      user: this.user(c.login, c.type), created_at: '2025-01-01T00:00:00Z', updated_at: '2025-01-01T00:00:00Z',
      issue_url: `https://api.github.com/repos/${owner}/${repo}/issues/${issue}`, author_association: 'NONE',
    };
  }

  private checkRequest(method: string, path: string, query: URLSearchParams, body: any): Operation | null {
    const { spec, routes } = loadSpec();
    const matches = routes.filter((r) => r.regex.test(path)).sort((a, b) => b.literalSegments - a.literalSegments);
    if (matches.length === 0) {
      this.violations.push(`${method} ${path}: no such path in GitHub's OpenAPI description`);
      return null;
    }
    const best = matches.filter((m) => m.template === matches[0].template);
    const route = best.find((m) => m.method === method.toLowerCase());
    if (!route) {
      this.violations.push(`${method} ${path}: ${matches[0].template} has no ${method} operation`);
      return null;
    }
    const names = [...route.template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    const values = route.regex.exec(path)!.slice(1).map(decodeURIComponent);
    const params = (route.op.parameters ?? []).map((p: any) => deref(spec, p));
    for (const p of params) {
      let raw: string | null = null;
      if (p.in === 'path') raw = values[names.indexOf(p.name)] ?? null;
      else if (p.in === 'query') raw = query.get(p.name);
      else continue;
      if (raw == null) {
        if (p.required) this.violations.push(`${method} ${route.template}: missing required ${p.in} parameter ${p.name}`);
        continue;
      }
      const schema = deref(spec, p.schema);
      const value = schema?.type === 'integer' || schema?.type === 'number' ? Number(raw) : schema?.type === 'boolean' ? raw === 'true' : raw;
      const v = validator(`param:${route.template}:${p.name}`, p.schema ?? {});
      if (!v(value)) this.violations.push(`${method} ${route.template}: ${p.in} parameter ${p.name}=${raw}: ${JSON.stringify(v.errors)}`);
      // documented limits the schema leaves to prose
      if (p.name === 'per_page' && Number(raw) > 100) this.violations.push(`${method} ${route.template}: per_page ${raw} > 100`);
    }
    for (const k of query.keys()) {
      if (!params.some((p: any) => p.in === 'query' && p.name === k)) this.violations.push(`${method} ${route.template}: undocumented query parameter ${k}`);
    }
    const content = deref(spec, route.op.requestBody)?.content?.['application/json'];
    if (content) {
      const v = validator(`body:${method}:${route.template}`, content.schema);
      if (!v(body)) this.violations.push(`${method} ${route.template}: body ${JSON.stringify(v.errors)}`);
      const props = deref(spec, content.schema)?.properties;
      if (props && body && typeof body === 'object') {
        for (const k of Object.keys(body)) if (!(k in props)) this.violations.push(`${method} ${route.template}: unknown body property ${k}`);
      }
    } else if (body !== undefined) {
      this.violations.push(`${method} ${route.template}: a body was sent to an operation that takes none`);
    }
    return route;
  }

  private checkResponse(route: Operation, status: number, data: any): void {
    const schema = route.op.responses?.[String(status)]?.content?.['application/json']?.schema;
    if (!schema) {
      this.violations.push(`fake server: ${route.method} ${route.template} has no documented ${status} response`);
      return;
    }
    const v = validator(`res:${route.method}:${route.template}:${status}`, schema);
    if (!v(data)) this.violations.push(`fake server response ${route.method} ${route.template} ${status}: ${JSON.stringify(v.errors).slice(0, 500)}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    let body: any = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        this.violations.push(`${method} ${url.pathname}: body is not JSON`);
      }
    }
    const record: RecordedRequest = {
      method, path: url.pathname, query: Object.fromEntries(url.searchParams), body, status: 0,
      authorization: req.headers.authorization,
    };
    this.requests.push(record);
    const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(data));
    };
    const route = this.checkRequest(method, url.pathname, url.searchParams, body);
    if (!route) return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });

    const inj = this.injections.find((i) => i.times > 0 && i.method === method && i.path.test(url.pathname));
    if (inj) {
      inj.times--;
      return send(inj.status, { message: inj.message ?? 'Server Error' }, inj.headers);
    }
    if (route.template === '/repos/{owner}/{repo}/pulls' && method === 'GET') {
      // Only the fields the action reads; the documented pull-request-simple schema requires ~40
      // nested repository objects, so this one response is not schema-checked (the request is).
      const data = this.pulls.map((p) => ({
        number: p.number,
        state: 'open',
        head: { sha: p.headSha, ref: 'patch-1', repo: { full_name: p.headRepo } },
        base: { ref: 'main' },
      }));
      return send(200, data);
    }
    const m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(?:(\d+)\/comments|comments\/(\d+))$/.exec(url.pathname);
    if (route.template === '/user' && method === 'GET') {
      // an installation token (GITHUB_TOKEN) cannot read /user
      return send(403, { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest/users/users#get-the-authenticated-user' });
    }
    if (!m) return send(404, { message: 'Not Found (fake server implements only issue comments)' });
    const [, owner, repo, issueText, commentText] = m;
    if (issueText && method === 'GET') {
      const issue = Number(issueText);
      const all = this.comments.get(issue) ?? [];
      const perPage = Number(url.searchParams.get('per_page') ?? 30);
      const page = Number(url.searchParams.get('page') ?? 1);
      const slice = all.slice((page - 1) * perPage, page * perPage).map((c) => this.commentJson(owner, repo, issue, c));
      const links: string[] = [];
      const last = Math.max(1, Math.ceil(all.length / perPage));
      const link = (p: number) => `${this.url}${url.pathname}?per_page=${perPage}&page=${p}`;
      if (page < last) links.push(`<${link(page + 1)}>; rel="next"`, `<${link(last)}>; rel="last"`);
      this.checkResponse(route, 200, slice);
      return send(200, slice, links.length ? { link: links.join(', ') } : {});
    }
    if (this.readOnly) {
      return send(403, { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment' });
    }
    if (typeof body?.body === 'string' && body.body.length > 65536) {
      return send(422, { message: 'Validation Failed', errors: [{ resource: 'IssueComment', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }] });
    }
    if (issueText && method === 'POST') {
      const issue = Number(issueText);
      const c = this.addComment(issue, body.body, this.botLogin, 'Bot');
      const data = this.commentJson(owner, repo, issue, c);
      this.checkResponse(route, 201, data);
      return send(201, data);
    }
    if (commentText && method === 'PATCH') {
      const id = Number(commentText);
      for (const [issue, list] of this.comments) {
        const c = list.find((x) => x.id === id);
        if (!c) continue;
        c.body = body.body;
        const data = this.commentJson(owner, repo, issue, c);
        this.checkResponse(route, 200, data);
        return send(200, data);
      }
      return send(404, { message: 'Not Found' });
    }
    return send(404, { message: 'Not Found' });
  }
}
