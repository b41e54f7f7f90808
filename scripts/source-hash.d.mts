export const STAMP: string;
export function sourceHashes(root: string): Record<string, string>;
