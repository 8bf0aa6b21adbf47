// What the page keeps in the browser's storage for one labels file: label writes the server
// has not acknowledged yet (so a reload does not drop them) and the undo history (so a
// reload or a server restart does not lose it). Keys name the workspace, the dataset and the
// labels file, so another workspace served on the same address never sees them.
// The storage is injected (window.localStorage on the page, a Map in tests).
import { plural } from "./plural.js";

const PREFIX = "alctl:";
// A page that has not touched its journal for this long is gone (a crashed tab): its
// unacknowledged writes may be taken over. A living page re-saves while it waits.
export const ORPHAN_AFTER_MS = 60_000;
export const BEAT_MS = 5_000;

/** A Web Storage-like object kept in memory (tests; a browser that refuses localStorage). */
export function memoryStorage() {
  const items = new Map();
  return {
    get length() {
      return items.size;
    },
    key: (i) => [...items.keys()][i] ?? null,
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
}

/** The page's localStorage, or memory when the browser refuses it (then nothing outlives it). */
export function browserStorage() {
  try {
    const storage = window.localStorage;
    storage.getItem(PREFIX);
    return storage;
  } catch {
    return memoryStorage();
  }
}

/** "alctl:<kind>:<workspace>|<dataset>|<labels file>" (+ ":<writer>"). */
export function scopeKey(kind, { workspace, dataset, labelsFile }, writer = null) {
  const key = `${PREFIX}${kind}:${workspace ?? ""}|${dataset ?? ""}|${labelsFile ?? ""}`;
  return writer === null ? key : `${key}:${writer}`;
}

/** The storage's keys, whatever kind of storage it is (Web Storage or a Map-backed fake). */
function keysOf(storage) {
  const keys = [];
  for (let i = 0; i < storage.length; i++) keys.push(storage.key(i));
  return keys;
}

function read(storage, key) {
  try {
    const text = storage.getItem(key);
    return text === null ? null : JSON.parse(text);
  } catch {
    return null; // unreadable or not ours: treated as absent
  }
}

/** Writes `text`; false when the storage refused it (quota, private mode). */
export function writeText(storage, key, text) {
  try {
    storage.setItem(key, text);
    return true;
  } catch {
    return false;
  }
}

/** Writes `value` as JSON; false when the storage refused it. */
export function writeJson(storage, key, value) {
  return writeText(storage, key, JSON.stringify(value));
}

export function readJson(storage, key) {
  return read(storage, key);
}

/** A set of small values kept under `key` ({has, add, clear}). */
export function storedSet(storage, key) {
  const values = () => new Set(read(storage, key) ?? []);
  return {
    has: (value) => values().has(value),
    add(value) {
      writeJson(storage, key, [...values().add(value)]);
    },
    clear() {
      storage.removeItem(key);
    },
  };
}

/**
 * The unacknowledged label writes of this page: one storage entry per page load (`writer`),
 * so two tabs never take each other's writes while both live.
 */
export function createPendingJournal({ storage, scope, writer, now = () => Date.now() }) {
  const key = scopeKey("pending", scope, writer);
  const prefix = `${scopeKey("pending", scope)}:`;
  let entries = [];

  function save() {
    if (entries.length === 0) storage.removeItem(key);
    else writeJson(storage, key, { beat: now(), orphaned: false, entries });
  }

  return {
    /** The page's unacknowledged writes changed: `list` is [{serials, label, base}] in order. */
    save(list) {
      entries = list;
      save();
    },
    /** Still waiting: say so, so that no other page takes these writes over. */
    beat() {
      if (entries.length) save();
    },
    /** The page is going away (reload, close): its writes may be taken over at once. */
    release() {
      if (entries.length) writeJson(storage, key, { beat: now(), orphaned: true, entries });
    },
    /**
     * Takes over the writes of pages of this scope that are gone (released, or silent for
     * ORPHAN_AFTER_MS), oldest page first, and removes them from the storage.
     */
    claim() {
      const found = [];
      for (const other of keysOf(storage)) {
        if (!other?.startsWith(prefix) || other === key) continue;
        const journal = read(storage, other);
        if (!journal || !Array.isArray(journal.entries)) {
          storage.removeItem(other);
          continue;
        }
        if (!journal.orphaned && now() - journal.beat < ORPHAN_AFTER_MS) continue;
        found.push(journal);
        storage.removeItem(other);
      }
      found.sort((a, b) => a.beat - b.beat);
      return found.flatMap((journal) => journal.entries);
    },
  };
}

/**
 * What to write of writes a page could not finish, against the labels the server has now
 * (`current(serial)`: label or null). A serial is written (its last typed value) when the
 * server still has the label it had when it was typed, or one this page typed; otherwise
 * someone else changed it meanwhile, and their label stays (a conflict). Pure.
 * @returns {{writes: Array<[number|null, number[]]>, conflicts: Array<{serial, yours, theirs}>}}
 */
export function reconcile(entries, current) {
  const perSerial = new Map(); // serial -> {base, ours: Set, last}
  for (const { serials, label, base } of entries) {
    const bases = new Map(base ?? []);
    for (const serial of serials) {
      let item = perSerial.get(serial);
      if (!item) {
        item = { base: bases.has(serial) ? bases.get(serial) : null, ours: new Set() };
        perSerial.set(serial, item);
      }
      item.ours.add(label);
      item.last = label;
    }
  }
  const groups = new Map();
  const conflicts = [];
  for (const [serial, { base, ours, last }] of perSerial) {
    const now = current(serial);
    if (now === last) continue; // already there
    if (now !== base && !ours.has(now)) {
      conflicts.push({ serial, yours: last, theirs: now });
      continue;
    }
    if (!groups.has(last)) groups.set(last, []);
    groups.get(last).push(serial);
  }
  return { writes: [...groups.entries()], conflicts };
}

const labelWord = (label) => (label === null ? "none" : String(label));

/** What the page says after taking over an earlier page's writes (resend()'s result). */
export function resentText({ written, conflicts }) {
  const parts = [];
  if (written) {
    parts.push(`Sending ${plural(written, "label")} typed before the page was reloaded`
      + " (the server had not received them).");
  }
  if (conflicts.length) {
    const shown = conflicts.slice(0, 3)
      .map((c) => `#${c.serial} (you: ${labelWord(c.yours)}, now: ${labelWord(c.theirs)})`);
    parts.push(`Kept the labels of ${plural(conflicts.length, "sample")} changed elsewhere since`
      + ` they were typed: ${shown.join(", ")}${conflicts.length > 3 ? ", …" : ""}.`);
  }
  return parts.join(" ");
}
