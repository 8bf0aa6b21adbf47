// Counted nouns for the page: "1 epoch", "2 epochs", "12,000 labels". The one place the
// page pluralises (Python has ssvae/records/formats.py), so no line says "1 epochs".

const IRREGULAR = { batch: "batches", class: "classes" };

/**
 * `count` and `noun`, the noun plural unless the count is exactly one. Whole numbers get
 * thousands separators; a count that is not a number is shown as given, with the plural.
 * @param {unknown} count
 * @param {string} noun
 * @param {string} [many]  the plural, when it is not noun + "s"
 */
export function plural(count, noun, many) {
  const word = many ?? IRREGULAR[noun] ?? `${noun}s`;
  if (typeof count !== "number" || !Number.isFinite(count)) return `${count ?? "?"} ${word}`;
  return `${count.toLocaleString("en-US")} ${count === 1 ? noun : word}`;
}
