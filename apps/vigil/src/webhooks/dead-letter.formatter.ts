import { table } from '../cli/table.formatter';
import type { DeadLetterMessage, SubscriptionCountsMessage } from './webhook-api.client';

/** `vigil webhooks list-dead`: one row per dead letter, then where each subscription stands. */
export function formatDeadLetters(
  deadLetters: DeadLetterMessage[],
  subscriptions: SubscriptionCountsMessage[],
): string {
  const lines: string[] = [];
  if (deadLetters.length === 0) {
    lines.push('no dead letters');
  } else {
    lines.push(
      ...table(
        ['delivery id', 'subscription', 'event id', 'attempts', 'failed at', 'reason'],
        deadLetters.map((d) => [
          d.deliveryId,
          d.subscriptionId,
          d.eventId,
          String(d.attempts),
          new Date(Number(d.failedAtMs)).toISOString(),
          d.reason,
        ]),
      ),
    );
  }
  if (subscriptions.length > 0) {
    lines.push('', 'subscriptions:');
    lines.push(
      ...table(
        ['id', 'pending', 'dead', ''],
        subscriptions.map((s) => [
          s.subscriptionId,
          String(s.pending),
          String(s.dead),
          s.configured ? '' : 'not configured',
        ]),
      ),
    );
  }
  return `${lines.map((line) => line.trimEnd()).join('\n')}\n`;
}

/** --json: one dead letter per line, as the API names its fields. */
export function deadLetterLines(deadLetters: DeadLetterMessage[]): string {
  return deadLetters.map((d) => `${JSON.stringify(d)}\n`).join('');
}
