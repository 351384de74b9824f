import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Debian's chromium (CI installs it: `apt-get install chromium`), or CHROMIUM_PATH. Browser
 * tests skip with a message where it is absent, unless VIGIL_REQUIRE_CHROMIUM=1 (CI) makes
 * its absence a failure.
 */
export function chromiumPath(): string | undefined {
  const given = process.env.CHROMIUM_PATH;
  if (given) return existsSync(given) ? given : undefined;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (path) return path;
    } catch {
      // not on PATH
    }
  }
  return undefined;
}

export function requireChromium(): string | undefined {
  const path = chromiumPath();
  if (path) return path;
  if (process.env.VIGIL_REQUIRE_CHROMIUM === '1') {
    throw new Error('VIGIL_REQUIRE_CHROMIUM=1 but no chromium found (apt-get install chromium)');
  }
  process.stderr.write(
    'browser tests skipped: no chromium on PATH (apt-get install chromium, or set CHROMIUM_PATH)\n',
  );
  return undefined;
}
