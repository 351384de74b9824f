import { Controller, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { DeadLetterService } from '@app/webhooks';
import { ApiAuthGuard, RequireRole } from './api-auth.guard';
import { CallContextInterceptor } from './call-context.interceptor';
import { GrpcExceptionFilter } from './grpc-exception.filter';
import { grpcDeadLetter } from './grpc.mappers';
import {
  deadLetterPageRequest,
  deadLetterPageToken,
  replayTarget,
} from './webhook-request.parsers';

const SERVICE = 'WebhookService';

/** vigil.v1.WebhookService: validation here, the work in DeadLetterService. */
@Controller()
@UseGuards(ApiAuthGuard)
@UseFilters(GrpcExceptionFilter)
@UseInterceptors(CallContextInterceptor)
export class WebhookController {
  constructor(private readonly deadLetters: DeadLetterService) {}

  /** Seeing what failed is part of watching, like ListEvents. */
  @GrpcMethod(SERVICE, 'ListDeadLetters')
  @RequireRole('viewer')
  async listDeadLetters(request: {
    subscriptionId?: string;
    pageSize?: number;
    pageToken?: string;
  }) {
    const query = deadLetterPageRequest(request);
    const page = await this.deadLetters.list(query);
    return {
      deadLetters: page.deadLetters.map(grpcDeadLetter),
      nextPageToken:
        page.nextAfterId !== undefined
          ? deadLetterPageToken(page.nextAfterId, query.subscriptionId)
          : '',
      subscriptions: page.counts,
    };
  }

  /** Sends data to receivers again: an operator's decision. */
  @GrpcMethod(SERVICE, 'ReplayDeadLetters')
  @RequireRole('operator')
  async replayDeadLetters(request: {
    deliveryIds?: string[];
    all?: boolean;
    subscriptionId?: string;
  }) {
    const target = replayTarget(request);
    const replayed =
      target.kind === 'all'
        ? await this.deadLetters.replayAll(target.subscriptionId)
        : (await this.deadLetters.replay(target.deliveryIds)).length;
    return { replayed };
  }
}
