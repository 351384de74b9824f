/**
 * A subscriber URL fit for logs and dead letters: credentials hide in userinfo (`user:pass@`)
 * and in query strings (`?token=…`), so both go, and the fragment with them.
 */
export function redactWebhookUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(invalid url)';
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
