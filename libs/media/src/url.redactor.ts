/**
 * Camera URLs carry secrets in two places: `user:password@` and query strings (tokens, signed
 * URLs). Anything that leaves the process (logs, errors, status events) goes through here.
 */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!)\]]+$/;
const REDACTED = '***';

/** Redacts one URL; a string that is not a `scheme://` URL (a plain path) comes back unchanged. */
export function redactUrl(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!match) return url;
  const [, scheme, authority, rest] = match;
  // lastIndexOf: an unencoded '@' inside a password must not leak its tail as a "host".
  const at = authority.lastIndexOf('@');
  const host = at >= 0 ? `${REDACTED}@${authority.slice(at + 1)}` : authority;
  const secretStart = rest.search(/[?#]/);
  const path =
    secretStart >= 0 ? `${rest.slice(0, secretStart)}${rest[secretStart]}${REDACTED}` : rest;
  return `${scheme}${host}${path}`;
}

/** Redacts every URL inside free text such as an ffmpeg log line. */
export function redactUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (found) => {
    // Log lines often put a URL right before ': error' or inside quotes/parentheses.
    const trailing = TRAILING_PUNCTUATION.exec(found)?.[0] ?? '';
    return redactUrl(found.slice(0, found.length - trailing.length)) + trailing;
  });
}
