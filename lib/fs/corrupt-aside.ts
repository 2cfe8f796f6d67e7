/** Where a file that no longer parses is kept for a person to look at: `<file>.corrupt-<time>`, beside it. */
export const corruptAside = (file: string, now = new Date()): string => `${file}.corrupt-${now.toISOString().replace(/[:.]/g, "-")}`;
