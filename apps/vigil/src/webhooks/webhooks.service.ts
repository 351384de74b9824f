import type { Command } from '../cli/cli.args';
import { ExitCode } from '../cli/cli.errors';
import { deadLetterLines, formatDeadLetters } from './dead-letter.formatter';
import type { DeadLetterMessage, WebhookApi } from './webhook-api.client';

type WebhooksCommand = Extract<Command, { kind: 'webhooks' }>;

/** As large as the server serves: fewer round trips for a long list. */
const PAGE_SIZE = 500;

/**
 * `vigil webhooks list-dead | replay`: the dead letters of a running `vigil serve` (or fusion
 * service), through its gRPC API, so the server's dispatcher sends a replay at once.
 */
export class WebhooksService {
  constructor(private readonly api: WebhookApi) {}

  async run(command: WebhooksCommand, out: NodeJS.WritableStream): Promise<number> {
    try {
      return command.action === 'list-dead'
        ? await this.listDead(command, out)
        : await this.replay(command, out);
    } finally {
      this.api.close();
    }
  }

  private async listDead(
    command: Extract<WebhooksCommand, { action: 'list-dead' }>,
    out: NodeJS.WritableStream,
  ): Promise<number> {
    const all: DeadLetterMessage[] = [];
    let pageToken = '';
    let page;
    do {
      page = await this.api.listDeadLetters({
        ...(command.subscriptionId ? { subscriptionId: command.subscriptionId } : {}),
        pageSize: PAGE_SIZE,
        pageToken,
      });
      all.push(...page.deadLetters);
      pageToken = page.nextPageToken;
    } while (pageToken);
    out.write(command.json ? deadLetterLines(all) : formatDeadLetters(all, page.subscriptions));
    return ExitCode.ok;
  }

  private async replay(
    command: Extract<WebhooksCommand, { action: 'replay' }>,
    out: NodeJS.WritableStream,
  ): Promise<number> {
    const { replayed } = await this.api.replayDeadLetters(
      command.all
        ? {
            all: true,
            ...(command.subscriptionId ? { subscriptionId: command.subscriptionId } : {}),
          }
        : { deliveryIds: command.deliveryIds },
    );
    out.write(`${replayed} dead ${replayed === 1 ? 'letter' : 'letters'} replayed\n`);
    return ExitCode.ok;
  }
}
