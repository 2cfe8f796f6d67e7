/**
 * The API key, kept in localStorage so a person enters it once per browser. Storage may be off (a private
 * window, a policy): then it lasts as long as the tab.
 */
const STORAGE_KEY = "models-admin.api-key";
let inMemory: string | undefined;

export function loadKey(): string | undefined {
  try {
    return localStorage.getItem(STORAGE_KEY) ?? inMemory;
  } catch {
    return inMemory;
  }
}

export function saveKey(key: string): void {
  inMemory = key;
  try {
    localStorage.setItem(STORAGE_KEY, key);
  } catch {
    // kept in memory only
  }
}

export function forgetKey(): void {
  inMemory = undefined;
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
}
