import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { loadServeConfig } from '@app/service';
import { type RunningServer, startServer } from '../apps/vigil/src/serve/serve.command';
import { fixture, fixturesDir, modelsDir } from '@app/testing';
import { requireChromium } from '@app/testing/chromium';

/**
 * The operator console in a real browser (Debian's chromium, headless) against a real
 * `vigil serve`: real models, ffmpeg and a real recording. Sign in, start a stream from the
 * console, see the incident arrive without a reload, open its evidence, acknowledge it, and
 * find it acknowledged after a reload and on a viewer's console; a viewer cannot act and a
 * wrong token stays on the sign-in page.
 */
jest.setTimeout(300_000);
// The page's globals as these checks use them: the tests compile without the DOM library.
declare const window: { marker?: number };
declare const document: {
  querySelector(
    selector: string,
  ): { complete: boolean; naturalWidth: number; duration: number } | null;
};
const OPERATOR = 'operator-token-for-the-browser-test';
const VIEWER = 'viewer-token-for-the-browser-test';
const CHROMIUM = requireChromium();
const describeWithChromium = CHROMIUM ? describe : describe.skip;

describeWithChromium('the web console in chromium', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];

  async function open(viewport = { width: 1280, height: 900 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(base);
    return page;
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.locator('#sign-in input[name=token]').fill(token);
    await page.locator('#sign-in button[type=submit]').click();
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-console-'));
    const file = join(dir, 'vigil.yaml');
    writeFileSync(
      file,
      [
        'grpc: { address: 127.0.0.1:0 }',
        'http: { address: 127.0.0.1:0 }',
        'auth:',
        `  tokens: [{ name: desk, role: operator, token: ${OPERATOR} }, { name: wall, role: viewer, token: ${VIEWER} }]`,
        'history: { path: ./history.sqlite }',
        // The lobby camera is in site hq (zone ground): its incident carries the site.
        'sites:',
        '  - { id: hq, zones: [{ id: ground, streams: [lobby] }] }',
        '  - { id: depot, streams: [dock] }',
        // Evidence waits for inference; other suites share the cores. Here it must be there.
        'evidence: { dir: ./evidence, timeoutMs: 30000 }',
      ].join('\n'),
    );
    const config = loadServeConfig(file, {
      ...process.env,
      VIGIL_HTTP_ADDRESS: '127.0.0.1:0',
      VIGIL_MODELS_DIR: modelsDir(),
      VIGIL_MEDIA_ROOTS: fixturesDir(),
    });
    server = await startServer(config, false);
    base = `http://${server.consoleAddress}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // CI runs as root, where chromium's sandbox cannot start.
      args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
    });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in, starts a stream, shows the incident live with its evidence, and keeps an acknowledgement', async () => {
    // A phone-sized screen: the console must be usable there.
    const page = await open({ width: 390, height: 844 });
    await page.locator('#sign-in').waitFor();
    await snap(page, 'sign-in');
    await signIn(page, OPERATOR);
    await expectText(page, '#who', 'desk (operator)');
    await page.locator('#no-incidents').waitFor();
    // Set once; a reload would lose it.
    await page.evaluate(() => (window.marker = 42));

    await page.locator('a[href="#/streams"]').click();
    await page
      .locator('#start-stream input[name=source]')
      .fill(fixture('clips/comp01_person_glassbreak.mp4'));
    await page.locator('#start-stream input[name=streamId]').fill('lobby');
    await page.locator('#start-stream button[type=submit]').click();
    await page.locator('li[data-stream="lobby"]').waitFor();
    // Its state moves on by itself (pushed), no refresh clicked.
    await page
      .locator('li[data-stream="lobby"] .badge')
      .filter({ hasText: /started|ended/ })
      .waitFor({ timeout: 60_000 });
    await snap(page, 'streams');

    await page.locator('nav a[href="#/"]').click();
    const row = page.locator('li.incident').first();
    await row.waitFor({ timeout: 180_000 });
    expect(await row.locator('.title').textContent()).toMatch(/Intrusion: glass break/);
    expect(await page.evaluate(() => window.marker)).toBe(42);
    const incidentId = (await row.getAttribute('data-incident'))!;
    await snap(page, 'incidents');

    // A viewer's console on the same incident, open while the operator acts.
    const wall = await open();
    await signIn(wall, VIEWER);
    await expectText(wall, '#who', 'wall (viewer)');
    await wall.goto(`${base}#/incidents/${encodeURIComponent(incidentId)}`);
    await expectText(wall, '#disposition', 'new');
    expect(await wall.locator('#acknowledge').count()).toBe(0);
    // The server refuses the viewer's write even with the session's own CSRF token.
    const refused = await wall.evaluate(async (id) => {
      const session = (await (await fetch('/api/session')).json()) as { csrf: string };
      const reply = await fetch(`/api/incidents/${encodeURIComponent(id)}/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-vigil-csrf': session.csrf },
        body: JSON.stringify({ action: 'acknowledge' }),
      });
      return {
        status: reply.status,
        body: (await reply.json()) as { error: { code: string } },
      };
    }, incidentId);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('PERMISSION_DENIED');

    await row.locator('a').click();
    await expectText(page, '#disposition', 'new');
    // The evidence loads: both images decode and the audio element knows its duration.
    await page.waitForFunction(
      () =>
        ['#snapshot', '#spectrogram'].every((selector) => {
          const image = document.querySelector(selector);
          return image !== null && image.complete && image.naturalWidth > 0;
        }),
      undefined,
      { timeout: 30_000 },
    );
    const duration = await page.waitForFunction(
      () => {
        const audio = document.querySelector('#clip');
        return audio && Number.isFinite(audio.duration) && audio.duration > 0 && audio.duration;
      },
      undefined,
      { timeout: 30_000 },
    );
    expect(await duration.jsonValue()).toBeGreaterThan(0.5);
    await snap(page, 'incident-phone');

    await page.locator('.actions textarea[name=note]').fill('checked the lobby camera');
    await page.locator('#acknowledge').click();
    await expectText(page, '#disposition', 'acknowledged');
    await expectText(page, '#timeline', 'Acknowledged by desk (operator)');
    // Every open console hears of it.
    await expectText(wall, '#disposition', 'acknowledged');
    await expectText(wall, '#timeline', 'checked the lobby camera');
    await snap(wall, 'incident-viewer');

    await page.reload();
    await expectText(page, '#disposition', 'acknowledged');
    await expectText(page, '#timeline', 'checked the lobby camera');
    expect(await page.locator('#acknowledge').count()).toBe(0);

    // A false alarm after all: the trigger class is ignored on this stream for an hour,
    // shown on every console, and lifted again by the operator.
    await page.locator('.actions select[name=suppress]').selectOption('60');
    await page.locator('#false-alarm').click();
    await expectText(page, '#disposition', 'false alarm');
    await expectText(page, '#suppressions [data-suppression]', 'glass_break');
    await expectText(wall, '#suppressions [data-suppression]', 'glass_break');
    expect(await wall.locator('#suppressions button').count()).toBe(0);
    await snap(page, 'false-alarm');
    await page.locator('#suppressions button').click();
    await page.locator('#suppressions').waitFor({ state: 'detached' });
    await wall.locator('#suppressions').waitFor({ state: 'detached' });

    await page.locator('a[href="#/"]').first().click();
    await expectText(page, `li[data-incident="${incidentId}"] [data-disposition]`, 'false alarm');
  });

  it('filters incidents by site and shows each stream’s site', async () => {
    const page = await open();
    await signIn(page, VIEWER);
    await expectText(page, '#who', 'wall (viewer)');
    const row = page.locator('li.incident').first();
    await row.waitFor();
    const incidentId = (await row.getAttribute('data-incident'))!;
    await expectText(page, `li[data-incident="${incidentId}"] .meta`, 'site hq');

    const site = page.locator('form.filters select[name=site]');
    expect(await site.locator('option').allTextContents()).toEqual(['any', 'hq', 'depot']);
    await site.selectOption('depot');
    await page.locator('#no-incidents').waitFor();
    expect(await page.locator('li.incident').count()).toBe(0);
    await site.selectOption('hq');
    await page.locator(`li[data-incident="${incidentId}"]`).waitFor();
    await snap(page, 'incidents-by-site');

    await page.locator('a[href="#/streams"]').click();
    await expectText(page, 'li[data-stream="lobby"] [data-site="hq"]', 'site hq / ground');
  });

  it('keeps a wrong token on the sign-in page', async () => {
    const page = await open();
    await signIn(page, 'not-a-token-this-server-knows');
    await expectText(page, '#sign-in [role=alert]', 'unknown bearer token');
    expect(await page.locator('#who').count()).toBe(0);
    const status = await page.evaluate(async () => (await fetch('/api/incidents')).status);
    expect(status).toBe(401);
  });
});

/** VIGIL_CONSOLE_SCREENSHOTS=<dir> keeps a picture of each step, to look at the layout. */
async function snap(page: Page, name: string): Promise<void> {
  const dir = process.env.VIGIL_CONSOLE_SCREENSHOTS;
  if (dir) await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

async function expectText(page: Page, selector: string, text: string): Promise<void> {
  await page.locator(selector).filter({ hasText: text }).first().waitFor({ timeout: 30_000 });
}
