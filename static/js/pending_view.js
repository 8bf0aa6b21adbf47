// The header's count of labels typed on this page that the server has not taken yet. It shows
// only while a write could not get through (server away, no answer), so the ordinary
// millisecond write never flickers it, and it goes the moment the last one is written.
import { plural } from "./plural.js";

/** Renders `{count, waiting, reason}` (the labeler's onPending) into `node`. */
export function renderPending(node, { count, waiting, reason }) {
  const show = waiting && count > 0;
  node.hidden = !show;
  node.textContent = show ? `${plural(count, "label")} not saved yet` : "";
  node.dataset.count = String(show ? count : 0);
  node.title = show
    ? `Kept on this page and written in the order typed once the server takes them${
      reason ? ` (last try: ${reason})` : ""}. Reloading the page keeps them too.`
    : "";
}
