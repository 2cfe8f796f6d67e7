import path from "node:path";
import { z } from "zod";
import type { Config } from "../config";
import { redactSecrets, secretsOf } from "../redact";
import { JsonState } from "./json-state";

/** `state/activity-log.json`: what the metadata fetches did, oldest first, the newest 1,000 kept. */
export const ActivityEntry = z.object({
  time: z.string(),
  message: z.string(),
  level: z.enum(["info", "ok", "error"]),
});
export type ActivityEntry = z.infer<typeof ActivityEntry>;
export type ActivityLevel = ActivityEntry["level"];

export const ACTIVITY_LOG_LIMIT = 1_000;

/** What the log needs of the configuration: where it lives, and the credentials no entry may show. */
type LogConfig = Pick<Config, "stateDir" | "apiKey" | "civitaiApiKey" | "hfToken">;

const logFile = (config: LogConfig) =>
  new JsonState(
    path.join(config.stateDir, "activity-log.json"),
    z.array(ActivityEntry),
    () => [],
    // a bad entry costs that entry, not the log
    (json) => (Array.isArray(json) ? json.flatMap((entry) => ActivityEntry.safeParse(entry).data ?? []) : undefined),
  );

/** "HH:MM:SS" in the pod's local time, as the reference shows it. */
const clock = (now: number): string => new Date(now).toTimeString().slice(0, 8);

export const readActivity = (config: LogConfig): Promise<ActivityEntry[]> => logFile(config).read();

export async function appendActivity(config: LogConfig, ...lines: { message: string; level: ActivityLevel }[]): Promise<void> {
  const secrets = secretsOf(config);
  await logFile(config).update((entries, now) => {
    for (const { message, level } of lines) entries.push({ time: clock(now), message: redactSecrets(message, secrets), level });
    entries.splice(0, Math.max(0, entries.length - ACTIVITY_LOG_LIMIT));
    return { result: undefined, changed: lines.length > 0 };
  });
}

export async function clearActivity(config: LogConfig): Promise<{ status: "cleared" }> {
  await logFile(config).update((entries) => {
    const had = entries.length > 0;
    entries.length = 0;
    return { result: undefined, changed: had };
  });
  return { status: "cleared" };
}
