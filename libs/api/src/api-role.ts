/** Who may call what. Operators can do everything viewers can. */
export const API_ROLES = ['viewer', 'operator'] as const;
export type ApiRole = (typeof API_ROLES)[number];

const RANK: Readonly<Record<ApiRole, number>> = { viewer: 0, operator: 1 };

export function roleAllows(held: ApiRole, required: ApiRole): boolean {
  return RANK[held] >= RANK[required];
}
