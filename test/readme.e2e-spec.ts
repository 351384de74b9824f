import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import * as ts from 'typescript';
import { signWebhook } from '@app/webhooks';

/** The README's snippets are what receivers and clients copy: they must stay true. */
const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
const tsBlocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

function load(source: string): Record<string, unknown> {
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const module = { exports: {} as Record<string, unknown> };
  runInNewContext(js, {
    module,
    exports: module.exports,
    require,
    Buffer,
    Date,
    setTimeout,
    console,
  });
  return module.exports;
}

describe('README', () => {
  it('shows a webhook signature check that accepts what Vigil signs and nothing else', () => {
    const snippet = tsBlocks.find((b) => b.includes('function verifyVigil'));
    expect(snippet).toBeDefined();
    const verifyVigil = load(snippet!).verifyVigil as (
      secret: string,
      body: string,
      headers: Record<string, string | undefined>,
    ) => boolean;
    const secret = 'a-webhook-secret-of-some-length';
    const body = JSON.stringify({ type: 'vigil.incident', eventId: 'e1' });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers = {
      'x-vigil-timestamp': timestamp,
      'x-vigil-signature': signWebhook(secret, timestamp, body),
    };
    expect(verifyVigil(secret, body, headers)).toBe(true);
    expect(verifyVigil(secret, `${body} `, headers)).toBe(false);
    expect(verifyVigil('another-secret-entirely', body, headers)).toBe(false);
    const old = String(Number(timestamp) - 3600);
    expect(
      verifyVigil(secret, body, {
        'x-vigil-timestamp': old,
        'x-vigil-signature': signWebhook(secret, old, body),
      }),
    ).toBe(false);
    expect(verifyVigil(secret, body, {})).toBe(false);
  });

  it('has TypeScript snippets that compile without syntax errors', () => {
    expect(tsBlocks.length).toBeGreaterThanOrEqual(2);
    for (const block of tsBlocks) {
      const { diagnostics } = ts.transpileModule(block, { reportDiagnostics: true });
      expect(diagnostics ?? []).toEqual([]);
    }
  });
});
