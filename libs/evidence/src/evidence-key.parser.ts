import { EvidenceError, EvidenceErrorCode } from './evidence.error';

/**
 * One path segment: starts with a letter or digit (so never '.', '..' or a hidden file the
 * store keeps for itself), then letters, digits, '.', '_' or '-'. No separators, no NUL, no
 * '%' games: a key that passes cannot name anything outside its event's folder or bucket prefix.
 */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface EvidenceKeyParts {
  eventId: string;
  name: string;
}

export function isValidSegment(value: string): boolean {
  return SEGMENT.test(value);
}

/** `<eventId>/<name>`, the one way keys are made. Throws INVALID_KEY on anything else. */
export function evidenceKey(eventId: string, name: string): string {
  assertSegment(eventId, 'event id');
  assertSegment(name, 'artifact name');
  return `${eventId}/${name}`;
}

export function assertEventId(eventId: string): void {
  assertSegment(eventId, 'event id');
}

export function parseEvidenceKey(key: string): EvidenceKeyParts {
  const parts = typeof key === 'string' ? key.split('/') : [];
  if (parts.length !== 2 || !isValidSegment(parts[0]) || !isValidSegment(parts[1])) {
    throw new EvidenceError(
      EvidenceErrorCode.INVALID_KEY,
      `not an evidence key (expected <event-id>/<name>): ${JSON.stringify(key)}`,
    );
  }
  return { eventId: parts[0], name: parts[1] };
}

function assertSegment(value: string, what: string): void {
  if (typeof value !== 'string' || !isValidSegment(value)) {
    throw new EvidenceError(
      EvidenceErrorCode.INVALID_KEY,
      `invalid ${what} ${JSON.stringify(value)}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
}
