import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  Logger,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiError, ApiErrorCode } from './api.error';
import { type ApiRole, roleAllows } from './api-role';
import { ApiTokenRegistry } from './api-token.registry';
import { metadataValue } from './call.metadata';

const ROLE_KEY = 'vigil:required-role';

/** The least role a controller (or one of its methods) needs. */
export const RequireRole = (role: ApiRole) => SetMetadata(ROLE_KEY, role);

/**
 * Bearer-token authentication and role checks for every gRPC method. A method without a
 * required role is refused, so a new controller cannot be left open by forgetting one.
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  private readonly logger = new Logger('ApiAuth');

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: ApiTokenRegistry,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const required = this.reflector.getAllAndOverride<ApiRole | undefined>(ROLE_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!required) {
      this.logger.error(`${context.getClass().name}.${context.getHandler().name} has no role`);
      throw new ApiError(ApiErrorCode.PERMISSION_DENIED, 'method not available');
    }
    if (this.tokens.open) return true;
    const principal = this.tokens.authenticate(authorizationOf(context));
    if (!roleAllows(principal.role, required)) {
      throw new ApiError(
        ApiErrorCode.PERMISSION_DENIED,
        `role ${principal.role} may not call this method (needs ${required})`,
      );
    }
    return true;
  }
}

function authorizationOf(context: ExecutionContext): string | undefined {
  return metadataValue(context, 'authorization');
}
