export const SERVICE_CONFIG = Symbol('ServiceConfig');
export const BUS = Symbol('Bus');
/** The user-facing parts of the config (gRPC, auth, history, evidence, webhooks). */
export const API_CONFIG = Symbol('ApiConfig');
