// The workspace's managers and teams (GET /managers and /teams), read once and again after a
// minute: what @mentions complete (composer.js) and what highlights them (messages.js).
import { api } from "./api.js";

const FRESH_FOR_MS = 60_000;
let directory = null; // { at, read: Promise<{ managers: [...], teams: [...] }> }

export function people() {
  const now = Date.now();
  if (!directory || now - directory.at > FRESH_FOR_MS) {
    const read = Promise.all([api("GET", "/managers"), api("GET", "/teams")]).then(([managers, teams]) => ({
      managers,
      teams,
    }));
    directory = { at: now, read };
    read.catch(() => (directory = null)); // a failed read is tried again next time
  }
  return directory.read;
}
