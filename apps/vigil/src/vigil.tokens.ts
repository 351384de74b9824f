export const VIGIL_CONFIG = Symbol('VigilConfig');
