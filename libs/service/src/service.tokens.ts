export const SERVICE_CONFIG = Symbol('ServiceConfig');
export const BUS = Symbol('Bus');
