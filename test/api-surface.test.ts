/**
 * api-surface.test — nothing internal in the published declarations (SPEC §12): the API
 * report under version control (docs/api-report.d.ts.txt, kept current by `npm run lint`)
 * and the built dist/*.d.ts of the modules the public types live in name no internal
 * type or member (the Budget, the transport's Attempt, the pool, connections, response
 * plumbing, the fault server's connections), and every type they use is exported.
 */

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');

/** Names that must never appear in a public declaration. */
const INTERNAL = [
  /\bBudget\b/,
  /\bAttempt\b/,
  /\bAttemptInit\b/,
  /\bconnReleased\b/,
  /\bconnClosed\b/,
  /\bexchangeOn\b/,
  /\battach\(/,
  /\bsetDecoder\b/,
  /\bsettled\b/,
  /\bbudget\b/,
  /\bPool</,
  /\bConnection\b/,
  /\bConnOwner\b/,
  /\bBodyChannel\b/,
  /\bSettlement\b/,
  /\bWritableBody\b/,
  /\bPreparedBody\b/,
  /\bPreparedOutgoingBody\b/,
  /\bheaderFlat\b/,
  /\bCall\b/,
  // hourglass/testing: the fault server's connection plumbing.
  /\bConn\b/,
  /\bBodyReader\b/,
  /\bRequestReader\b/,
  /\bExchangeHost\b/,
  /\bopenExchange\b/,
];

/** Declaration text without comments (a comment may mention an internal on purpose). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

function offenders(text: string): string[] {
  const body = code(text);
  return INTERNAL.filter((re) => re.test(body)).map((re) => `${re.source}: ${body.split('\n').find((l) => re.test(l))?.trim()}`);
}

test('the API report names no internal type or member', { timeout: 5_000 }, () => {
  const report = readFileSync(join(ROOT, 'docs', 'api-report.d.ts.txt'), 'utf8');
  assert.match(report, /interface OutgoingRequest \{/);
  assert.match(report, /interface RoundTripper \{/);
  assert.deepEqual(offenders(report), []);
});

test('the built declarations of the public modules name no internal type or member', { timeout: 5_000 }, (t) => {
  const dist = join(ROOT, 'dist');
  if (!existsSync(join(dist, 'index.d.ts'))) {
    t.skip('dist/ not built (npm run build)');
    return;
  }
  const files = [
    'index',
    'client',
    'transport',
    'response',
    'round-tripper',
    'chain',
    'fetch',
    'retry',
    'errors',
    'dial/dialer',
    'testing/index',
    'testing/exchange',
    'testing/fault-server',
    'testing/mock-transport',
  ];
  const found: string[] = [];
  for (const f of files) {
    const path = join(dist, `${f}.d.ts`);
    for (const o of offenders(readFileSync(path, 'utf8'))) found.push(`${f}.d.ts ${o}`);
  }
  assert.deepEqual(found, []);
});

test('every type a public declaration uses is one users can name: the report script has no allow-list', { timeout: 60_000 }, (t) => {
  const script = readFileSync(join(ROOT, 'scripts', 'api-report.mjs'), 'utf8');
  assert.doesNotMatch(script, /KNOWN_UNEXPORTED|allow-?list/i);
  if (!existsSync(join(ROOT, 'dist', 'index.d.ts'))) {
    t.skip('dist/ not built (npm run build)');
    return;
  }
  // Fails (exit 1, naming the type) when a declaration references an unexported one.
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'api-report.mjs'), '--check'], { cwd: ROOT, stdio: 'pipe' });
});

test('the published declarations do not let users construct a Response (new Response() fails to compile)', { timeout: 60_000 }, (t) => {
  if (!existsSync(join(ROOT, 'dist', 'index.d.ts'))) {
    t.skip('dist/ not built (npm run build)');
    return;
  }
  const file = join(ROOT, 'dist', '__ctor-check.ts');
  const text = [
    "import { Response } from './index.js';",
    'export const a = new Response();',
    'export const b = Response.from({ status: 200, url: "http://a.test/" });',
  ].join('\n');
  const host = ts.createCompilerHost({});
  const read = host.readFile.bind(host);
  host.readFile = (f) => (f === file ? text : read(f));
  const exists = host.fileExists.bind(host);
  host.fileExists = (f) => f === file || exists(f);
  const program = ts.createProgram(
    [file],
    { noEmit: true, strict: true, skipLibCheck: true, types: ['node'], module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
    host,
  );
  const errors = ts.getPreEmitDiagnostics(program).map((d) => `${d.start === undefined ? '' : d.file?.getLineAndCharacterOfPosition(d.start).line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  // Line 1 (`new Response()`) fails; line 2 (Response.from) compiles.
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /^1: Expected 1 argument/);
});
