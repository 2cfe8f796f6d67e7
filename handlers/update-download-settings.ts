import { api } from "../lib/http/api";
import { SettingsChange, updateSettings } from "../lib/state/settings";

/** Any of the settings, in range; an unknown key is refused (422), not ignored. */
export const handler = api(({ body, studio }) => updateSettings(studio.config, body), { body: SettingsChange });
