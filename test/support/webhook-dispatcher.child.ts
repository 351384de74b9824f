/**
 * A webhook dispatcher in a process of its own, for tests that kill it with SIGKILL: it
 * delivers the outbox of the history file HISTORY_PATH to SUBSCRIPTIONS (JSON, as a config
 * file lists them) with the real HttpSender, and runs until it is killed.
 *
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register <this file>
 */
import { MemoryBus } from '@app/bus';
import { HistoryDatabase, SqliteSqlDatabase } from '@app/history';
import { WebhookDispatcher, WebhookOutbox, parseWebhookSubscriptions } from '@app/webhooks';

async function main(): Promise<void> {
  const database = new SqliteSqlDatabase(
    new HistoryDatabase({ path: process.env.HISTORY_PATH! }),
    true,
  );
  const dispatcher = new WebhookDispatcher({
    outbox: await WebhookOutbox.open(database),
    subscriptions: parseWebhookSubscriptions(JSON.parse(process.env.SUBSCRIPTIONS!)),
    bus: new MemoryBus(),
  });
  dispatcher.start();
  // Its loops wait on promises, not timers: without one the process would end with nothing to do.
  setInterval(() => undefined, 60_000);
  process.stdout.write('dispatching\n');
}

void main();
